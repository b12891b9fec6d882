"""Command line: `python -m sweetspot sweep CONFIG --out DIR [--config.a.b=value ...]`.

On CPU the CLI exposes every core as an XLA host device (set before jax is imported) and shards the grid over
them; `--no-host-devices` turns that off, and a user's own XLA_FLAGS are kept (their device count wins).
"""

from __future__ import annotations

import argparse
import os
import sys

HOST_DEVICE_FLAG = "--xla_force_host_platform_device_count"


def set_host_devices(n: int) -> None:
    """Adds the host-device-count flag to XLA_FLAGS unless the user set it; must run before importing jax."""
    if "jax" in sys.modules:
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if HOST_DEVICE_FLAG not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {HOST_DEVICE_FLAG}={n}".strip()


def load_config(spec: str, overrides: list[str]):
    """Loads `path[:arg]` through get_config(arg) and applies `--config.x.y=value` overrides
    (ml_collections config_flags: unknown keys and wrong types are errors)."""
    from absl import flags
    from ml_collections import config_flags

    fv = flags.FlagValues()
    config_flags.DEFINE_config_file("config", None, "sweep config file", flag_values=fv, lock_config=True)
    bad = [o for o in overrides if not o.startswith("--config.")]
    if bad:
        raise SystemExit(f"error: unknown option(s) {bad}: overrides look like --config.train.steps=500")
    try:
        fv(["sweetspot", f"--config={spec}", *overrides])
    except (flags.Error, AttributeError, KeyError, ValueError, TypeError) as e:
        raise SystemExit(f"error: bad config or override: {e}") from None
    return fv.config


def _sweep(args, overrides):
    if not args.no_host_devices:
        set_host_devices(os.cpu_count() or 1)
    from sweetspot import config as config_lib
    from sweetspot import results as res_lib
    from sweetspot import sweep

    cfg = load_config(args.config, overrides)
    try:
        config_lib.validate(cfg)
        engine, results = sweep.run_sweep(cfg, args.out, resume=args.resume, overwrite=args.overwrite)
    except (config_lib.ConfigError, res_lib.ResultsError) as e:
        raise SystemExit(f"error: {e}") from None
    print(sweep.summary_table(engine, results))
    print(f"results: {os.path.join(args.out, 'results.csv')}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="sweetspot", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sweep", help="train a grid and save its results")
    p.add_argument("config", help="sweep config file, optionally with :arg for get_config(arg)")
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last chunk")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory (on success)")
    p.add_argument("--no-host-devices", action="store_true", help="on CPU, use one XLA device instead of one per core")
    args, rest = parser.parse_known_args(argv)
    if args.command == "sweep":
        _sweep(args, rest)


if __name__ == "__main__":
    main()
