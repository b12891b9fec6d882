"""Command line: `python -m sweetspot sweep CONFIG --out DIR [--config.a.b=value ...]`,
`python -m sweetspot diagnose RUN_DIR [--point depth=3,sparsity=0.9,seed=0] | --npz NET.npz --target CONFIG`,
`python -m sweetspot report RUN_DIR [RUN_DIR ...] --out DIR`, `python -m sweetspot verify RUN_DIR` and
`python -m sweetspot predict-depth TARGET_SPEC`.

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


def _sweep(args, overrides):
    if args.resume and args.overwrite:
        raise SystemExit(
            "error: --resume and --overwrite exclude each other: --resume continues the run in --out, "
            "--overwrite replaces it"
        )
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

    try:
        cfg = validate(config_lib.load_config(args.config, overrides))
        engine, results = sweep.run_sweep(cfg, args.out, resume=args.resume, overwrite=args.overwrite)
    except (config_lib.ConfigError, res_lib.ResultsError) as e:
        raise SystemExit(f"error: {e}") from None
    except OSError as e:  # e.g. the disk filled up, or permissions changed, during the run
        raise SystemExit(f"error: --out {args.out}: {e.strerror or e}: {e.filename or ''}") from None
    print(sweep.summary_table(engine, results))
    print(f"results: {os.path.join(args.out, 'results.csv')}")


def _diagnose(args, overrides):
    from sweetspot import diagnose, rundir
    from sweetspot import results as res_lib
    from sweetspot.config import load_config

    try:
        if args.npz:
            if not args.target:
                raise SystemExit("error: --npz needs --target CONFIG (a sweep config whose target block names it)")
            cfg = load_config(args.target, overrides)
            from sweetspot import targets
            from sweetspot.validation import validate

            validate(cfg)
            target = targets.make_target(cfg.target)
            if target.structure.n_outputs != 1:
                raise SystemExit(
                    f"error: --target {args.target}: the target has {target.structure.n_outputs} outputs; "
                    "--npz networks have one readout output: allowed are targets with one output"
                )
            params, masks, depth = diagnose.load_npz_network(args.npz, n_inputs=target.structure.n_inputs)
            act = args.activation or cfg.model.activation
            print(diagnose.report(params, masks, depth, act, target, cfg.metrics, diagnose.test_rows(target, cfg),
                                  seed=int(cfg.target.data_seed), as_json=args.json))
        elif args.point:
            cfg, target, params, masks, depth, r2 = rundir.load_network(args.run_dir, args.point)
            null = rundir.null_scores(args.run_dir, args.point)
            print(diagnose.report(params, masks, depth, cfg.model.activation, target, cfg.metrics,
                                  diagnose.test_rows(target, cfg), fit_r2=r2, seed=int(cfg.target.data_seed), null=null,
                                  as_json=args.json))
        else:
            print(rundir.point_table(args.run_dir))
    except (res_lib.ResultsError, ValueError) as e:
        raise SystemExit(f"error: {e}") from None
    except OSError as e:
        raise SystemExit(f"error: diagnose: {e.strerror or e}: {e.filename or ''}") from None


def _report(args):
    if args.jobs is not None and args.jobs < 1:  # before the analyses (and jax) are imported
        raise SystemExit(f"error: report --jobs={args.jobs} is invalid: allowed values are integers >= 1")
    from sweetspot import results as res_lib
    from sweetspot.analysis import report

    try:
        jobs = report.DEFAULT_JOBS if args.jobs is None else args.jobs
        report.report(args.run_dirs, args.out, jobs=jobs, note=args.note)
    except res_lib.ResultsError as e:
        raise SystemExit(f"error: {e}") from None


def _verify(args) -> None:
    """Prints each checksummed file of a run as ok / changed / missing / added; one `error:` line and status 1 when
    any differs (checksums.verify_lines)."""
    from sweetspot import checksums, rundir
    from sweetspot import results as res_lib

    try:
        meta = rundir.read_complete_meta(args.run_dir)
        lines, problem = checksums.verify_lines(args.run_dir, meta)
    except res_lib.ResultsError as e:
        raise SystemExit(f"error: {e}") from None
    except OSError as e:
        raise SystemExit(f"error: verify: {e.strerror or e}: {e.filename or ''}") from None
    print("\n".join(lines))
    if problem:
        raise SystemExit(f"error: {problem}")


def _check_report_out(out: str) -> None:
    """SystemExit with a one-line error for a report --out that cannot be a directory."""
    if not out.strip():
        raise SystemExit("error: report --out '' is empty: give the report directory, e.g. --out report")
    if os.path.lexists(out) and not os.path.isdir(out):
        raise SystemExit(f"error: report --out {out} is a file: give a directory (created if missing)")


def _predict_depth_args(args, fit: dict) -> None:
    """SystemExit with a one-line error for a flag of predict-depth out of range (width and the sweep settings)."""
    rules = {"tol": ("a number in (0, 1]", lambda v: 0 < v <= 1), "lr": ("a number > 0", lambda v: v > 0)}
    for name in ("width", *fit):
        value, (allowed, ok) = getattr(args, name), rules.get(name, ("an integer >= 1", lambda v: v >= 1))
        if value is not None and not ok(value):
            raise SystemExit(f"error: --{name.replace('_', '-')}={value!r} is invalid: allowed values are {allowed}")


def _predict_depth(args) -> dict:
    """Prints the depth prediction of args.target (depth_predictor.format_report); returns predict's dict."""
    from sweetspot import depth_predictor, targets
    from sweetspot.targets.zoo import parse_target_spec

    fit = {k: getattr(args, k) for k in depth_predictor.FIT}
    _predict_depth_args(args, fit)
    try:
        if args.target.split(":", 1)[0].endswith(".py"):  # a sweep config: the whole of it, as `sweep` would
            from sweetspot import config as config_lib
            from sweetspot import validation

            validation.validate(config_lib.load_config(args.target, []))
        tcfg, mcfg = parse_target_spec(args.target)
        cache = None if args.no_cache else args.cache
        dkw = {} if args.data_only or args.both else None
        width, act = args.width or int(mcfg.width), mcfg.activation
        res = depth_predictor.predict(tcfg, width, act, cache, not args.data_only, dkw, **fit)
        print(depth_predictor.format_report(res, targets.make_target(tcfg).structure))
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    return res


def _add_sweep(sub) -> None:
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


def _add_diagnose(sub) -> None:
    d = sub.add_parser("diagnose", help="is a network compositional? per-point table or one network's report")
    d.add_argument("run_dir", nargs="?", help="a run directory written by `sweep`")
    d.add_argument("--point", help="one grid point, e.g. depth=3,sparsity=0.9,seed=0 (axes with one value may go)")
    d.add_argument("--npz", help="your own MLP: .npz with W0, b0, ..., WD, bD (last = linear readout)")
    d.add_argument("--target", help="with --npz: a sweep config file whose `target` block is the target")
    d.add_argument("--activation", help="with --npz: relu, gelu or tanh (default: the config's)")
    d.add_argument("--json", action="store_true", help="one network: print one JSON object (label, scores, nodes)")


def _add_report(sub) -> None:
    r = sub.add_parser("report", help="every figure and table (PNG, PDF, CSV, index.html) from saved runs")
    r.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    r.add_argument("--out", required=True, help="report directory (created; files in it are replaced)")
    r.add_argument("--jobs", type=int, help="analyses run at once, each in its own process (default: cores, <= 4)")
    r.add_argument("--note", help="a line shown at the top of the report and in every section (figures-quick)")


def _add_verify(sub) -> None:
    v = sub.add_parser("verify", help="check a run's files against the sha256 its meta.json recorded")
    v.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory written by `sweep`")


def _add_predict_depth(sub) -> None:
    from sweetspot import depth_predictor  # does not import jax

    doc = depth_predictor.__doc__.splitlines()[0]
    p = sub.add_parser("predict-depth", help="predicted peak depth of a target", description=doc)
    p.add_argument("target", help="sweeps/FILE.py[:arg] or FAMILY[:key=value,...], e.g. tree:levels=3,arity=2")
    p.add_argument("--width", type=int, help="network width (default: the config's model.width)")
    p.add_argument("--data-only", action="store_true", help="only the data-only predictor (structure unknown)")
    p.add_argument("--both", action="store_true", help="structural and data-only predictors")
    p.add_argument(
        "--cache", default=depth_predictor.DEFAULT_CACHE, help="cache dir of measured d_v (default %(default)s)"
    )
    p.add_argument("--no-cache", action="store_true", help="measure every node afresh and write nothing")
    for name, val in depth_predictor.FIT.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(val), default=val, help=f"sweep (default {val})")


def make_parser() -> argparse.ArgumentParser:
    """The parser of every command: sweep, diagnose, report, verify, predict-depth."""
    parser = argparse.ArgumentParser(prog="sweetspot", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_sweep, _add_diagnose, _add_report, _add_verify, _add_predict_depth):
        add(sub)
    for p in sub.choices.values():
        p.set_defaults(command_parser=p)  # errors of a command print that command's usage
    return parser


def main(argv=None):
    """Runs one command; returns predict-depth's result dict (None for the other commands)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = make_parser()
    args, rest = parser.parse_known_args(argv)  # sweep and diagnose take --config.x=y overrides
    if rest and args.command in ("report", "verify", "predict-depth"):
        args.command_parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "report":
        _check_report_out(args.out)
        try:
            _report(args)
        except OSError as e:
            raise SystemExit(f"error: report: {e.strerror or e}: {e.filename or ''}") from None
    elif args.command == "sweep":
        _sweep(args, rest)
    elif args.command == "diagnose":
        if not args.run_dir and not args.npz:
            args.command_parser.error("diagnose needs RUN_DIR or --npz FILE --target CONFIG")
        _diagnose(args, rest)
    elif args.command == "verify":
        _verify(args)
    elif args.command == "predict-depth":
        return _predict_depth(args)
    return None


if __name__ == "__main__":
    main()
