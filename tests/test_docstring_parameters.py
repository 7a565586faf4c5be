"""Every public parameter is documented in its numpydoc docstring.

As imbalanced-learn's ``test_docstring_parameters.py``: for each public class
(its ``__init__`` parameters, documented in the class docstring) and each
public function or method of skteam's public modules, the names under
"Parameters" must be the signature's names, in order.
"""

import dataclasses
import importlib
import inspect

import pytest

numpydoc = pytest.importorskip("numpydoc.docscrape")

PUBLIC_MODULES = ["skteam", "skteam.qc", "skteam.team", "skteam.metrics",
                  "skteam.datasets", "skteam.report", "skteam.loop",
                  "skteam.exceptions", "skteam.utils"]


def _public_objects():
    seen = set()
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            yield f"{name}.{attr}", obj
            if inspect.isclass(obj):
                for meth_name, meth in vars(obj).items():
                    if (inspect.isfunction(meth) and not meth_name.startswith("_")
                            and meth.__doc__):
                        yield f"{name}.{attr}.{meth_name}", meth


def _signature_names(obj):
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = inspect.signature(target).parameters.values()
    return [p.name for p in params if p.name not in ("self", "cls")
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _documented_names(obj):
    doc = (numpydoc.ClassDoc(obj, config={"show_class_members": False})
           if inspect.isclass(obj) else numpydoc.FunctionDoc(obj))
    # a dataclass documents its fields as attributes
    section = "Attributes" if dataclasses.is_dataclass(obj) else "Parameters"
    names = []
    for param in doc[section]:
        # "a, b : int" documents two parameters at once
        names.extend(n.strip() for n in param.name.split(",") if n.strip())
    return [n.lstrip("*") for n in names if not n.startswith("*")]


OBJECTS = dict(_public_objects())


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_docstring_parameters(name):
    obj = OBJECTS[name]
    expected = _signature_names(obj)
    if not expected:
        return
    assert obj.__doc__, f"{name} has no docstring"
    documented = _documented_names(obj)
    if dataclasses.is_dataclass(obj):  # attributes in any order
        documented, expected = sorted(documented), sorted(expected)
    assert documented == expected, (
        f"{name}: the docstring's Parameters do not match the signature")


def test_shared_parameter_text_is_written_once():
    from skteam import TeamTrimSampler, TrimQC
    from skteam.utils._docstring import QC_DOCSTRINGS

    for text in QC_DOCSTRINGS.values():
        first = text.splitlines()[1].strip()
        assert first in TeamTrimSampler.__doc__ and first in TrimQC.__doc__
