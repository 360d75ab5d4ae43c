"""Request bodies checked against the official Azure SDK for Python models.

Two generations of generated models are supported:
- "hybrid" (TypeSpec) models: `rest_field(name=..., visibility=[...])` attributes with type annotations
  (azure-mgmt-network, -storage, -keyvault, -databricks, -privatedns, -resource today);
- "msrest" models: `_attribute_map` (JSON keys, flattened with dots) + `_validation` (readonly,
  required) (azure-mgmt-authorization, -msi: per-api-version modules).

`schema_of(cls)` turns either into a ModelSchema; `check(cls, body, mode)` validates a body and
returns a cleaned copy (read-only properties dropped, enum values in their canonical case).
"""
import enum
import functools
import inspect
import re
import sys
import typing

from ..errors import ArmError

# FIDELITY: ARM (and the JSON.NET deserializers behind most resource providers) ignores read-only
# properties sent in a PUT body (clients PUT back what they GET). We drop them silently.
READONLY_POLICY = "ignore"
# FIDELITY: enum values are matched case-insensitively (JSON.NET enum conversion is) and stored in the
# model's canonical case. SDK "extensible" enums are treated as closed: stricter than some RPs.
ENUM_CASE_INSENSITIVE = True
# FIDELITY: unknown properties are refused (400 InvalidRequestContent naming the JSON path), as
# ARM does for its own envelope; some resource providers silently ignore unknown members (looser).


class Field:
    __slots__ = ("name", "attr", "type", "readonly", "required")

    def __init__(self, name, attr, typ, readonly, required):
        self.name, self.attr, self.type, self.readonly, self.required = name, attr, typ, readonly, required


class ModelSchema:
    def __init__(self, cls):
        self.cls = cls
        self.name = cls.__name__
        self.fields = {}           # json name -> Field (a Field with type ("object", ModelSchema) for msrest flattening)
        self.discriminator = None  # json name
        self.mapping = {}          # discriminator value -> class


_cache = {}


def _is_hybrid(cls):
    return any(getattr(b, "__name__", "") == "Model" and "model_base" in getattr(b, "__module__", "")
               for b in cls.__mro__)


def _models_module(cls):
    mod = sys.modules[cls.__module__]
    # hybrid: azure.mgmt.x.models._models -> azure.mgmt.x.models
    parent = cls.__module__.rsplit(".", 1)[0]
    if cls.__module__.endswith("._models") or cls.__module__.endswith("._models_py3"):
        return sys.modules.get(parent, mod)
    return mod


def schema_of(cls):
    s = _cache.get(cls)
    if s is not None:
        return s
    s = ModelSchema(cls)
    _cache[cls] = s            # before filling: recursive models
    if _is_hybrid(cls):
        _fill_hybrid(s, cls)
    else:
        _fill_msrest(s, cls)
    return s


# ---- hybrid (TypeSpec) models ---------------------------------------------------------------------
def _fill_hybrid(s, cls):
    mros = [c for c in reversed(cls.__mro__) if _is_hybrid(c) and c.__name__ != "Model"
            and "model_base" not in c.__module__]
    models = _models_module(cls)
    annotations = {}
    rest = {}
    for c in mros:
        annotations.update(getattr(c, "__annotations__", {}) or {})
        for k, v in c.__dict__.items():
            if k[0] != "_" and hasattr(v, "_rest_name_input") and hasattr(v, "_visibility"):
                rest[k] = v
    for attr, rf in rest.items():
        name = rf._rest_name_input or attr
        vis = rf._visibility
        readonly = vis == ["read"]
        ann = annotations.get(attr)
        typ, optional = _resolve_annotation(ann, models)
        required = (not optional) and not readonly and not getattr(rf, "_is_discriminator", False)
        s.fields[name] = Field(name, attr, typ, readonly, required)
        if getattr(rf, "_is_discriminator", False) and hasattr(cls, "__mapping__") and \
                "__mapping__" in cls.__dict__:
            s.discriminator = name
            s.mapping = dict(cls.__mapping__)


def _resolve_annotation(ann, models):
    """-> (type spec, optional)."""
    if ann is None:
        return ("any",), True
    if isinstance(ann, str):
        ann = typing.ForwardRef(ann)
    if isinstance(ann, typing.ForwardRef):
        ann = _eval_ref(ann.__forward_arg__, models)
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is typing.Union:
        non_none = [a for a in args if a is not type(None)]
        optional = len(non_none) != len(args)
        if len(non_none) == 1:
            return _resolve_annotation(non_none[0], models)[0], optional
        specs = [_resolve_annotation(a, models)[0] for a in non_none]
        enums = [sp for sp in specs if sp[0] == "enum"]
        if enums and all(sp[0] in ("enum", "str") for sp in specs):
            return enums[0], optional     # Union[str, SomeEnum] -> the enum (see ENUM policy)
        return ("union", specs), optional
    if origin in (list, typing.List):
        return ("list", _resolve_annotation(args[0], models)[0] if args else ("any",)), False
    if origin in (dict, typing.Dict):
        return ("dict", _resolve_annotation(args[1], models)[0] if len(args) > 1 else ("any",)), False
    if origin is typing.Literal:
        return ("literal", [a.value if isinstance(a, enum.Enum) else a for a in args]), False
    return _scalar(ann), False


def _eval_ref(text, models):
    text = text.strip()
    m = re.fullmatch(r"_models\.(\w+)", text)
    if m:
        return getattr(models, m.group(1))
    ns = {"_models": models, "Optional": typing.Optional, "Union": typing.Union, "List": typing.List,
          "Dict": typing.Dict, "Any": typing.Any, "Literal": typing.Literal, "list": list, "dict": dict}
    import datetime
    ns["datetime"] = datetime
    return eval(text, ns)  # noqa: S307 - annotations from the installed SDK package only


def _scalar(t):
    import datetime
    if t is str:
        return ("str",)
    if t is bool:
        return ("bool",)
    if t is int:
        return ("int",)
    if t is float:
        return ("float",)
    if t in (datetime.datetime, datetime.date, datetime.timedelta):
        return ("str",)
    if t is bytes or t is bytearray:
        return ("str",)
    if t is typing.Any or t is object:
        return ("any",)
    if isinstance(t, type) and issubclass(t, enum.Enum):
        return ("enum", t)
    if isinstance(t, type):
        return ("model", t)
    return ("any",)


# ---- msrest models ------------------------------------------------------------------------------
_MSREST_SCALARS = {"str": ("str",), "int": ("int",), "long": ("int",), "float": ("float",),
                   "bool": ("bool",), "object": ("any",), "iso-8601": ("str",), "rfc-1123": ("str",),
                   "duration": ("str",), "date": ("str",), "bytearray": ("str",), "base64": ("str",),
                   "unix-time": ("int",)}


def _fill_msrest(s, cls):
    models = sys.modules[cls.__module__]
    pkg = sys.modules.get(cls.__module__.rsplit(".", 1)[0])
    amap = {}
    valid = {}
    for c in reversed(cls.__mro__):
        amap.update(c.__dict__.get("_attribute_map", {}) or {})
        valid.update(c.__dict__.get("_validation", {}) or {})
    init_ann = {}
    try:
        for name, p in inspect.signature(cls.__init__).parameters.items():
            if p.annotation is not inspect.Parameter.empty:
                init_ann[name] = p.annotation
    except (TypeError, ValueError):
        pass
    for attr, info in amap.items():
        key_parts = [k.replace("\\.", ".") for k in re.split(r"(?<!\\)\.", info["key"])]
        v = valid.get(attr, {})
        typ = _msrest_type(info["type"], models, pkg)
        if typ == ("str",) and attr in init_ann:
            et, _ = _resolve_annotation(init_ann[attr], pkg or models)
            if et[0] == "enum":
                typ = et
        target = s
        for part in key_parts[:-1]:         # flattened: "properties.x" -> nested virtual object
            f = target.fields.get(part)
            if f is None:
                sub = ModelSchema(type("Flattened_" + part, (), {}))
                f = Field(part, part, ("object", sub), False, False)
                target.fields[part] = f
            target = f.type[1]
        leaf = key_parts[-1]
        target.fields[leaf] = Field(leaf, attr, typ, bool(v.get("readonly")), bool(v.get("required")))
        if v.get("required") and len(key_parts) > 1:
            s.fields[key_parts[0]].required = True
    sub = cls.__dict__.get("_subtype_map") or {}
    for attr, mapping in sub.items():
        key = amap[attr]["key"]
        s.discriminator = key
        s.mapping = {val: getattr(models, name, None) for val, name in mapping.items()}


def _msrest_type(t, models, pkg):
    if t in _MSREST_SCALARS:
        return _MSREST_SCALARS[t]
    if t.startswith("[") and t.endswith("]"):
        return ("list", _msrest_type(t[1:-1], models, pkg))
    if t.startswith("{") and t.endswith("}"):
        return ("dict", _msrest_type(t[1:-1], models, pkg))
    c = getattr(models, t, None) or (getattr(pkg, t, None) if pkg else None)
    if c is None:
        return ("any",)
    return ("model", c)


# ---- validation ---------------------------------------------------------------------------------
def _err(path, message):
    return ArmError(400, "InvalidRequestContent",
                    f"The request content was invalid and could not be deserialized: '{message} "
                    f"Path '{path}'.'", target=path or None)


def _join(path, name):
    return f"{path}.{name}" if path else name


def _enum_values(e):
    return [m.value for m in e]


def check(cls, body, mode="create", path="", not_required=()):
    """Validate `body` (a JSON object) against model `cls`; -> cleaned copy. mode: "create" checks
    required properties, "update" (PATCH) does not. not_required: JSON paths ("properties.computeMode")
    the model requires but the request's (older) api-version did not."""
    _NOT_REQUIRED.paths = set(not_required)
    try:
        return _check_value(("model", cls), body, path, mode, top=True)
    finally:
        _NOT_REQUIRED.paths = set()


_NOT_REQUIRED = __import__("threading").local()


def _type_name(spec):
    k = spec[0]
    if k == "model":
        return spec[1].__name__
    if k == "object":
        return spec[1].name
    if k == "enum":
        return spec[1].__name__
    if k in ("list", "dict"):
        return f"{k}[{_type_name(spec[1])}]"
    return k


def _check_value(spec, value, path, mode, top=False):
    kind = spec[0]
    if value is None:
        return None
    if kind == "any":
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise _err(path, f"Error converting value {_show(value)} to type 'System.String'.")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            # FIDELITY: JSON.NET would accept "true"/"false" strings; we want real booleans (stricter).
            raise _err(path, f"Error converting value {_show(value)} to type 'System.Boolean'.")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _err(path, f"Error converting value {_show(value)} to type 'System.Int32'.")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _err(path, f"Error converting value {_show(value)} to type 'System.Double'.")
        return value
    if kind == "enum":
        allowed = _enum_values(spec[1])
        if not isinstance(value, str):
            raise _err(path, f"Error converting value {_show(value)} to type '{spec[1].__name__}'.")
        for a in allowed:
            if a == value or (ENUM_CASE_INSENSITIVE and isinstance(a, str) and a.lower() == value.lower()):
                return a
        raise ArmError(400, "InvalidRequestContent",
                       f"The request content was invalid and could not be deserialized: 'Error converting value "
                       f"\"{value}\" to type '{spec[1].__name__}'. Path '{path}'.' Allowed values: "
                       f"{', '.join(map(str, allowed))}.", target=path)
    if kind == "literal":
        for a in spec[1]:
            if a == value or (isinstance(a, str) and isinstance(value, str) and a.lower() == value.lower()):
                return a
        raise _err(path, f"Error converting value {_show(value)}: expected one of {spec[1]}.")
    if kind == "union":
        last = None
        for alt in spec[1]:
            try:
                return _check_value(alt, value, path, mode)
            except ArmError as e:
                last = e
        raise last
    if kind == "list":
        if not isinstance(value, list):
            raise _err(path, f"Cannot deserialize the current JSON {_jtype(value)} into type "
                             f"'{_type_name(spec)}' (a JSON array is expected).")
        return [_check_value(spec[1], v, f"{path}[{i}]", mode) for i, v in enumerate(value)]
    if kind == "dict":
        if not isinstance(value, dict):
            raise _err(path, f"Cannot deserialize the current JSON {_jtype(value)} into type "
                             f"'{_type_name(spec)}' (a JSON object is expected).")
        return {k: _check_value(spec[1], v, _join(path, k), mode) for k, v in value.items()}
    if kind in ("model", "object"):
        schema = schema_of(spec[1]) if kind == "model" else spec[1]
        if not isinstance(value, dict):
            raise _err(path, f"Cannot deserialize the current JSON {_jtype(value)} into type "
                             f"'{schema.name}' (a JSON object is expected).")
        if schema.discriminator and schema.mapping:
            dv = value.get(schema.discriminator)
            if dv is None:
                raise ArmError(400, "InvalidRequestContent",
                               f"Required property '{schema.discriminator}' not found in JSON. Path '{path}'.",
                               target=_join(path, schema.discriminator))
            sub = None
            for k, c in schema.mapping.items():
                if k == dv or k.lower() == str(dv).lower():
                    sub, dv = c, k
            if sub is None:
                raise ArmError(400, "InvalidRequestContent",
                               f"Error converting value \"{dv}\" of '{schema.discriminator}': expected one of "
                               f"{sorted(schema.mapping)}. Path '{_join(path, schema.discriminator)}'.",
                               target=_join(path, schema.discriminator))
            if sub is not spec[1]:
                out = _check_value(("model", sub), value, path, mode)
                out[schema.discriminator] = dv
                return out
        out = {}
        for k, v in value.items():
            f = schema.fields.get(k)
            if f is None:
                # ARM property names are matched case-insensitively by JSON.NET.
                f = next((ff for n, ff in schema.fields.items() if n.lower() == k.lower()), None)
                if f is not None:
                    k = f.name
            if f is None:
                p = _join(path, k)
                raise ArmError(400, "InvalidRequestContent",
                               f"The request content was invalid and could not be deserialized: 'Could not find "
                               f"member '{k}' on object of type '{schema.name}'. Path '{p}'.'", target=p)
            if f.readonly and READONLY_POLICY == "ignore":
                continue
            out[k] = _check_value(f.type, v, _join(path, k), mode)
        if mode == "create":
            for n, f in schema.fields.items():
                p = _join(path, n)
                if f.required and value.get(n) is None and out.get(n) is None and \
                        p not in getattr(_NOT_REQUIRED, "paths", ()):
                    if p == "location":
                        raise ArmError(400, "LocationRequired", "The location property is required for this definition.",
                                       target="location")
                    raise ArmError(400, "InvalidRequestContent",
                                   f"The request content was invalid and could not be deserialized: 'Required "
                                   f"property '{n}' not found in JSON. Path '{path}'.'", target=p)
        return out
    return value


def _jtype(v):
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    return "primitive value"


def _show(v):
    import json
    s = json.dumps(v)
    return s if len(s) < 60 else s[:57] + "..."


@functools.lru_cache(maxsize=None)
def load_model(module, name):
    """Import azure.mgmt.<module> and get its model class `name`."""
    import importlib
    mod = importlib.import_module(module)
    try:
        return getattr(mod, name)
    except AttributeError:
        raise LookupError(f"model {name} not found in {module}") from None
