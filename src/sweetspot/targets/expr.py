"""User-declared targets: an expression over named primitives and inputs. docs/method.md, section "Targets".

`sum(absdiff(x0, x1), absdiff(x2, x3))` is parsed with `ast` (never eval): every call is an internal node of a
`Structure` (targets/core.py) whose children are its arguments, the inputs x0..x{n-1} are the leaves, the outermost call
is the root. Identical subexpressions are one node (the structure is a DAG). Every node is normalised to zero
mean and unit variance on a reference sample, as in every family (`core.normalised_target`).
"""

from __future__ import annotations

import ast
import re

import jax
import jax.numpy as jnp

from sweetspot.targets.core import Target, make_structure, normalised_target, reference_inputs

# name -> (min args, max args or None, constituent z (batch, k) -> (batch,)).
PIECEWISE_LINEAR = {
    "absdiff": (2, 2, lambda z: jnp.abs(z[:, 0] - z[:, 1])),
    "abs": (1, 1, lambda z: jnp.abs(z[:, 0])),
    "relu": (1, 1, lambda z: jax.nn.relu(z[:, 0])),
    "max": (2, None, lambda z: jnp.max(z, axis=1)),
    "min": (2, None, lambda z: jnp.min(z, axis=1)),
    "sum": (2, None, lambda z: jnp.sum(z, axis=1)),
    "diff": (2, 2, lambda z: z[:, 0] - z[:, 1]),
}
SMOOTH = {
    "tanh": (1, 1, lambda z: jnp.tanh(z[:, 0])),
    "sigmoid": (1, 1, lambda z: jax.nn.sigmoid(z[:, 0])),
    "sin": (1, 1, lambda z: jnp.sin(z[:, 0])),
    "cos": (1, 1, lambda z: jnp.cos(z[:, 0])),
    "square": (1, 1, lambda z: z[:, 0] ** 2),
    "mul": (2, None, lambda z: jnp.prod(z, axis=1)),
    "prod": (2, None, lambda z: jnp.prod(z, axis=1)),
}
PRIMITIVES = {**PIECEWISE_LINEAR, **SMOOTH}
_INPUT = re.compile(r"x(0|[1-9][0-9]*)")


def _fail(text, why):
    raise ValueError(
        f"target.expr={text!r}: {why}. Allowed primitives: {', '.join(sorted(PRIMITIVES))}; "
        "inputs are x0, x1, ..., x{n-1}"
    )


def parse(text: str) -> tuple[int, list[tuple[int, ...]], list]:
    """(n_inputs, children of each internal node, constituent of each internal node), nodes in topological
    order with the root last; n_inputs = 1 + the largest input index, and every input must be used."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        _fail(text, f"malformed expression ({e.msg}, column {e.offset})")
    if not isinstance(tree, ast.Call):
        _fail(text, "the expression must be a call of a primitive, e.g. sum(absdiff(x0, x1), x2)")

    inputs: set[int] = set()
    calls: list[tuple[str, tuple]] = []  # (primitive, children as ('x', i) or ('n', call index)), post-order
    seen: dict[str, int] = {}

    def visit(node):
        if isinstance(node, ast.Name):
            m = _INPUT.fullmatch(node.id)
            if m is None:
                kind = "primitive used as a variable" if node.id in PRIMITIVES else "variable"
                _fail(text, f"unknown {kind} {node.id!r}")
            inputs.add(int(m.group(1)))
            return ("x", int(m.group(1)))
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                _fail(text, f"unsupported call target {ast.unparse(node.func)!r}")
            name = node.func.id
            if name not in PRIMITIVES:
                _fail(text, f"unknown primitive {name!r}")
            if node.keywords:
                _fail(text, f"{name}() takes no keyword arguments")
            lo, hi, _ = PRIMITIVES[name]
            if len(node.args) < lo or (hi is not None and len(node.args) > hi):
                want = f"{lo}" if lo == hi else f"at least {lo}" if hi is None else f"{lo}..{hi}"
                _fail(text, f"{name}() takes {want} arguments, got {len(node.args)}")
            kids = tuple(visit(a) for a in node.args)
            key = ast.dump(node)
            if key not in seen:  # identical subexpressions are one node
                seen[key] = len(calls)
                calls.append((name, kids))
            return ("n", seen[key])
        token = ast.unparse(node) if isinstance(node, ast.AST) else repr(node)
        _fail(text, f"unsupported token {token!r} (only primitive calls and inputs are allowed)")

    visit(tree)
    n = max(inputs) + 1
    unused = sorted(set(range(n)) - inputs)
    if unused:
        _fail(text, f"inputs {['x%d' % i for i in unused]} are unused (inputs must be x0..x{n - 1}, all used)")
    children = [tuple(i if kind == "x" else n + i for kind, i in kids) for _, kids in calls]
    constituents = [PRIMITIVES[name][2] for name, _ in calls]
    return n, children, constituents


def expr_target(cfg) -> Target:
    """The target declared by cfg.expr; the normalisation reference sample is drawn from cfg.seed + 1
    (cfg.n_reference points, uniform on [-1, 1]^n), as in the tree family."""
    n, children, constituents = parse(cfg.expr)
    structure = make_structure(n, children)
    ref_x = reference_inputs(cfg, n)
    return normalised_target(f"expr({cfg.expr})", structure, constituents, ref_x)
