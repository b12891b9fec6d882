"""The analyses behind `python -m sweetspot report`: one module per experiment or theory check, each with
`TITLE`, `select(runs) -> runs` and `make(runs, out) -> Section` (base.Section), run in the order of
report.ANALYSES. They read saved run directories only and never train.

Layout: base (Run, Section, load_run, figure/table files, the command line of an analysis), stats (CSV cells
to numbers, means, rank correlations), report (the registry and the runner that writes index.html), then the
analyses: e1_regime, e2_depth, e3_connectivity, e4_fractured, e5_generalization, e6_sculpting,
e7_sp_recovery (SP on its judging targets), wiring,
t0_depth_predictor, t1_sparsity, t2_volume (figures in t2_figures), t3_interference (per-network numerics in
interference), the stand-alone tables regime_heatmap and method_table, and recovery (wiring recovery of every
saved network of a run, `sweetspot.wiring_recovery`). Imports go one way: analyses import
base, stats and sweetspot's core modules; report imports the analyses; nothing below imports report.
"""
