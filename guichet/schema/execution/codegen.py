"""Code generation: the Python source that shapes one plan's result.

`generate(plan)` writes one module whose `__make__(R)` is called once per request with the
runtime `R` and returns the root object function, one completion function per deferred
field and the object functions by id. Generated functions:

- `o<oid>(obj, path)`: one per (object type, merged selection set): builds the result
  dict in field order with straight-line code: attribute reads in `try`, a class test
  per leaf (the type's coercion only when it misses), `__typename` as a constant;
  related, keyed and resolver fields leave a placeholder and queue their work for the
  level (a keyed field computes its key at once: `schema.fields.batched`);
- `c<sid>(v, P, K)`: completion of a value of one (wrapped) type at position (P, K):
  `is None` tests where the type is non-null, lists, objects, abstract types;
- `done<fid>(v, d, path)`: completes a deferred field once its level has loaded.

A path is a linked tuple `(parent, key)`; errors carry it and graphql-core's lists are
made from it only when an error happens. `Bubble` carries a non-null failure to the
nearest nullable position, which records it and becomes null. `print(plan.source)` shows
the code.
"""

from __future__ import annotations

from typing import Any

from guichet.schema.execution.leaves import (
    DATETIME,
    enum_names,
    fast_test,
    is_datetime_isoformat,
)
from guichet.schema.execution.planner import FieldPlan, ObjectPlan, Plan, Shape


class Bubble(Exception):
    """A failure at a non-null position, on its way to the nearest nullable one."""

    __slots__ = ("nodes", "path", "raw")

    def __init__(self, raw: Exception, nodes: Any, path: tuple) -> None:
        self.raw, self.nodes, self.path = raw, nodes, path


class Fallback(BaseException):
    """Something the plan cannot answer exactly (an object that fails its type's
    `is_type_of`, an abstract type resolved to something unknown): the normal executor
    runs the operation instead."""


class _Writer:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {
            "Bubble": Bubble,
            "Fallback": Fallback,
            "DT": DATETIME,
            "__builtins__": __builtins__,
        }

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    # ---------------------------------------------------------------- module

    def module(self) -> str:
        plan = self.plan
        self.emit(0, "def __make__(R):")
        self.emit(1, "FE = R.field_error; NN = R.nonnull; REC = R.record; PROP = R.propagate")
        self.emit(1, "LEAF = R.leaf; ASLIST = R.as_list; AB = R.abstract; FALLBACK = R.fallback")
        self.emit(1, "QR = R.queue_related; QC = R.queue_call; AWAITABLE = R.is_awaitable")
        for f in plan.fields:
            self.namespace[f"F{f.fid}"] = f
            if f.requires is not None:
                self.emit(1, f"A{f.fid} = R.allowed(F{f.fid})")
            if f.kind == "resolve":
                self.emit(1, f"CALL{f.fid} = R.caller(F{f.fid})")
            elif f.kind == "keyed":
                self.emit(1, f"KEY{f.fid}, ANSWER{f.fid} = R.keyer(F{f.fid})")
        for shape in plan.shapes:
            self.namespace[f"S{shape.sid}"] = shape
            self.shape_function(shape)
        for obj in plan.objects:
            self.object_function(obj)
        deferred = [f for f in plan.fields if f.kind in ("related", "keyed", "resolve")]
        for f in deferred:
            self.done_function(f)
        done = ", ".join(f"{f.fid}: done{f.fid}" for f in deferred)
        objects = ", ".join(f"{o.oid}: o{o.oid}" for o in plan.objects)
        self.emit(1, f"return o{plan.root.oid}, {{{done}}}, {{{objects}}}")
        return "\n".join(self.lines) + "\n"

    # ---------------------------------------------------------------- completion

    def item_expression(self, shape: Shape, value: str, parent: str, key: str) -> str:
        """An expression completing `value` at (parent, key)."""
        call = f"c{shape.sid}({value}, {parent}, {key})"
        if shape.kind == "leaf":
            test = fast_test(shape.type, value)
            if test is not None:
                return f"({value} if {test} else {call})"
        return call

    def shape_function(self, shape: Shape) -> None:
        s = shape.sid
        self.emit(1, f"def c{s}(v, P, K):")
        if shape.nonnull:
            self.emit(2, f"if v is None: NN(S{s}, P, K)")
        else:
            self.emit(2, "if v is None: return None")
        if shape.kind == "leaf":
            self.leaf_body(shape)
        elif shape.kind == "list":
            self.emit(2, "if v.__class__ is not list:")
            self.emit(3, f"try: v = ASLIST(v, S{s})")
            self.emit(3, f"except Exception as ex: return FE(ex, S{s}, P, K)")
            self.emit(2, "Q = (P, K)")
            item = self.item_expression(shape.item, "x", "Q", "i")
            self.guarded(shape, f"return [{item} for i, x in enumerate(v)]")
        elif shape.kind == "object":
            self.guarded(shape, f"return o{shape.object.oid}(v, (P, K))")
        else:
            self.guarded(shape, f"return AB(v, S{s}, P, K)")

    def guarded(self, shape: Shape, statement: str) -> None:
        if shape.nonnull:
            self.emit(2, statement)
            return
        self.emit(2, "try:")
        self.emit(3, statement)
        self.emit(2, "except Bubble as b:")
        self.emit(3, "return REC(b, P, K)")

    def leaf_body(self, shape: Shape) -> None:
        s = shape.sid
        enum = enum_names(shape.type)
        if enum is not None:
            self.namespace[f"ECLS{s}"], self.namespace[f"E{s}"] = enum
            self.emit(2, f"if v.__class__ is ECLS{s} and v in E{s}: return E{s}[v]")
        elif is_datetime_isoformat(shape.type):
            self.emit(2, "if v.__class__ is DT: return v.isoformat()")
        self.emit(2, f"try: return LEAF(v, S{s})")
        self.emit(2, f"except Exception as ex: return FE(ex, S{s}, P, K)")

    # ---------------------------------------------------------------- objects

    def object_function(self, obj: ObjectPlan) -> None:
        self.emit(1, f"def o{obj.oid}(obj, path):")
        if obj.type.is_type_of is not None:
            self.namespace[f"IT{obj.oid}"] = obj.type.is_type_of
            self.emit(2, f"if not IT{obj.oid}(obj, None): FALLBACK(obj)")
        self.emit(2, "d = {}")
        for f in obj.fields:
            self.field(f, obj)
        self.emit(2, "return d")

    def field(self, f: FieldPlan, obj: ObjectPlan) -> None:
        key = repr(f.key)
        if f.kind == "typename":
            self.emit(2, f"d[{key}] = {obj.type.name!r}")
            return
        indent = 2
        if f.requires is not None:
            self.emit(
                2,
                f"if not A{f.fid}: d[{key}] = FE(R.denied(F{f.fid}), S{f.shape.sid}, path, {key})",
            )
            self.emit(2, "else:")
            indent = 3
        s = f.shape.sid
        if f.kind == "attr":
            read = f"obj.{f.attr}" if f.attr.isidentifier() else f"getattr(obj, {f.attr!r})"
            self.emit(indent, f"try: v = {read}")
            self.emit(indent, f"except Exception as ex: d[{key}] = FE(ex, S{s}, path, {key})")
            value = self.item_expression(f.shape, "v", "path", key)
            self.emit(indent, f"else: d[{key}] = {value}")
        elif f.kind == "related":
            read = f"obj.{f.attr}" if f.attr.isidentifier() else f"getattr(obj, {f.attr!r})"
            self.emit(indent, f"d[{key}] = None")
            self.emit(indent, f"try: k = {read}")
            self.emit(indent, f"except Exception as ex: d[{key}] = FE(ex, S{s}, path, {key})")
            self.emit(indent, "else:")
            self.emit(indent + 1, f"if k is None: d[{key}] = c{s}(None, path, {key})")
            self.emit(indent + 1, f"else: QR(F{f.fid}, k, d, path)")
        elif f.kind == "keyed":
            self.emit(indent, f"d[{key}] = None")
            self.emit(indent, f"try: k = KEY{f.fid}(obj)")
            self.emit(indent, f"except Exception as ex: d[{key}] = FE(ex, S{s}, path, {key})")
            self.emit(indent, f"else: QR(F{f.fid}, k, d, path, obj)")
        else:
            self.emit(indent, f"d[{key}] = None")
            self.emit(indent, f"try: v = CALL{f.fid}(obj, path)")
            self.emit(indent, f"except Exception as ex: d[{key}] = FE(ex, S{s}, path, {key})")
            self.emit(indent, "else:")
            self.emit(indent + 1, f"if AWAITABLE(v): QC(F{f.fid}, v, d, path)")
            self.emit(indent + 1, f"else: d[{key}] = c{s}(v, path, {key})")

    def done_function(self, f: FieldPlan) -> None:
        key, s = repr(f.key), f.shape.sid
        self.emit(1, f"def done{f.fid}(v, d, path, obj=None):")
        self.emit(2, "try:")
        self.emit(3, f"if isinstance(v, Exception): d[{key}] = FE(v, S{s}, path, {key})")
        if f.kind == "keyed":  # what was loaded for the key becomes the field's value
            self.emit(3, "else:")
            self.emit(4, f"try: v = ANSWER{f.fid}(v, obj)")
            self.emit(4, f"except Exception as ex: d[{key}] = FE(ex, S{s}, path, {key})")
            self.emit(4, f"else: d[{key}] = c{s}(v, path, {key})")
        else:
            self.emit(3, f"else: d[{key}] = c{s}(v, path, {key})")
        self.emit(2, "except Bubble as b:")
        self.emit(3, "PROP(b, path)")


def generate(plan: Plan) -> Plan:
    """Write, compile and attach the plan's code (`plan.source`, `plan.make`)."""
    writer = _Writer(plan)
    plan.source = writer.module()
    name = plan.operation.name.value if plan.operation.name else "anonymous"
    exec(compile(plan.source, f"<plan {name}>", "exec"), writer.namespace)
    plan.make = writer.namespace["__make__"]
    return plan
