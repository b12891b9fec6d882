"""Command line: `python -m sweetspot sweep CONFIG --out DIR [--config.a.b=value ...]`,
`python -m sweetspot diagnose RUN_DIR [--point depth=3,sparsity=0.9,seed=0] | --npz NET.npz --target CONFIG`,
`python -m sweetspot report RUN_DIR [RUN_DIR ...] --out DIR` and `python -m sweetspot predict-depth TARGET_SPEC`.

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


def enable_compilation_cache() -> None:
    """JAX's persistent compilation cache (re-runs, --resume and repeated sweeps skip XLA compiles), in
    $JAX_COMPILATION_CACHE_DIR if set, else ~/.cache/sweetspot/jax."""
    import jax

    path = os.environ.get("JAX_COMPILATION_CACHE_DIR") or os.path.expanduser("~/.cache/sweetspot/jax")
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


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
    if args.distributed or args.coordinator:
        import jax

        if args.coordinator and (args.num_processes is None or args.process_id is None):
            raise SystemExit("error: --coordinator needs --num-processes and --process-id")
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU collectives; GPUs/TPUs unaffected
        jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    enable_compilation_cache()
    from sweetspot import config as config_lib
    from sweetspot import results as res_lib
    from sweetspot import sweep
    from sweetspot.validation import validate

    cfg = load_config(args.config, overrides)
    try:
        validate(cfg)
        engine, results = sweep.run_sweep(cfg, args.out, resume=args.resume, overwrite=args.overwrite)
    except (config_lib.ConfigError, res_lib.ResultsError) as e:
        raise SystemExit(f"error: {e}") from None
    print(sweep.summary_table(engine, results))
    print(f"results: {os.path.join(args.out, 'results.csv')}")


def _diagnose(args, overrides):
    from sweetspot import diagnose, sweep
    from sweetspot import results as res_lib

    try:
        if args.npz:
            if not args.target:
                raise SystemExit("error: --npz needs --target CONFIG (a sweep config whose target block names it)")
            cfg = load_config(args.target, overrides)
            from sweetspot import targets
            from sweetspot.validation import validate

            validate(cfg)
            params, masks, depth = diagnose.load_npz_network(args.npz)
            target = targets.make_target(cfg.target)
            print(
                diagnose.report(
                    params,
                    masks,
                    depth,
                    args.activation or cfg.model.activation,
                    target,
                    cfg.metrics,
                    seed=int(cfg.target.data_seed),
                )
            )
        elif args.point:
            cfg, target, params, masks, depth, r2 = sweep.load_network(args.run_dir, args.point)
            print(
                diagnose.report(
                    params,
                    masks,
                    depth,
                    cfg.model.activation,
                    target,
                    cfg.metrics,
                    fit_r2=r2,
                    seed=int(cfg.target.data_seed),
                )
            )
        else:
            print(sweep.point_table(args.run_dir))
    except (res_lib.ResultsError, ValueError) as e:
        raise SystemExit(f"error: {e}") from None


def _report(args):
    from sweetspot import report
    from sweetspot import results as res_lib

    try:
        report.report(args.run_dirs, args.out)
    except res_lib.ResultsError as e:
        raise SystemExit(f"error: {e}") from None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["predict-depth"]:  # its own parser: sweetspot.depth_predictor
        from sweetspot import depth_predictor

        return depth_predictor.main(argv[1:])
    parser = argparse.ArgumentParser(prog="sweetspot", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sweep", help="train a grid and save its results")
    p.add_argument("config", help="sweep config file, optionally with :arg for get_config(arg)")
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last chunk")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory (on success)")
    p.add_argument("--no-host-devices", action="store_true", help="on CPU, use one XLA device instead of one per core")
    p.add_argument(
        "--distributed",
        action="store_true",
        help="call jax.distributed.initialize() (cluster auto-detection, e.g. SLURM) before running",
    )
    p.add_argument("--coordinator", help="multi-process run: coordinator host:port (process 0's address)")
    p.add_argument("--num-processes", type=int, help="multi-process run: number of processes")
    p.add_argument("--process-id", type=int, help="multi-process run: this process's id (0 writes the results)")
    d = sub.add_parser("diagnose", help="is a network compositional? per-point table or one network's report")
    d.add_argument("run_dir", nargs="?", help="a run directory written by `sweep`")
    d.add_argument("--point", help="one grid point, e.g. depth=3,sparsity=0.9,seed=0 (axes with one value may go)")
    d.add_argument("--npz", help="your own MLP: .npz with W0, b0, ..., WD, bD (last = linear readout)")
    d.add_argument("--target", help="with --npz: a sweep config file whose `target` block is the target")
    d.add_argument("--activation", help="with --npz: relu, gelu or tanh (default: the config's)")
    r = sub.add_parser("report", help="every figure and table (PNG, PDF, CSV, index.html) from saved runs")
    r.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    r.add_argument("--out", required=True, help="report directory (created; files in it are replaced)")
    sub.add_parser("predict-depth", help="predicted peak depth of a target (see predict-depth --help)")
    args, rest = parser.parse_known_args(argv)
    if args.command == "report":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        _report(args)
    elif args.command == "sweep":
        _sweep(args, rest)
    elif args.command == "diagnose":
        if not args.run_dir and not args.npz:
            parser.error("diagnose needs RUN_DIR or --npz FILE --target CONFIG")
        _diagnose(args, rest)


if __name__ == "__main__":
    main()
