"""`critmin registry init` and `verify`: exit codes and the named broken entry."""

from __future__ import annotations

from sqlalchemy import text
from typer.testing import CliRunner

from critmin.cli import app
from critmin.registry import file_certificates, make_engine, session_factory, verify_chain

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_init_then_verify_then_tamper(registry_url, make):
    res = run("registry", "verify", "--database-url", registry_url)
    assert res.exit_code == 1 and "registry init" in res.output
    res = run("registry", "init", "--database-url", registry_url)
    assert res.exit_code == 0, res.output
    assert "revision 0004" in res.output
    res = run("registry", "verify", "--database-url", registry_url)
    assert res.exit_code == 0, res.output
    assert "registry intact: 0 audit entries" in res.output

    from critmin.registry import declare_shipments, register_exporters, register_laboratories
    engine = make_engine(registry_url)
    factory = session_factory(engine)
    with factory.begin() as s:
        register_exporters(s, "admin", make.exporters())
        register_laboratories(s, "admin", make.laboratories())
        declare_shipments(s, "admin", make.shipments(15))
        ids = file_certificates(s, "lab1", make.certificates(30, 15)).keys
    res = run("registry", "verify", "--database-url", registry_url)
    assert res.exit_code == 0 and "50 rows" in res.output, res.output
    with factory.begin() as s:
        s.execute(text("UPDATE certificates SET unit = 'ppm' WHERE id = :id"), {"id": ids[4]})
    engine.dispose()
    res = run("registry", "verify", "--database-url", registry_url)
    assert res.exit_code == 1
    assert f"first broken certificates {ids[4]}: row does not match" in res.output


def test_default_url_is_the_sqlite_file_in_critmin_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CRITMIN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CRITMIN_DATABASE_URL", raising=False)
    assert run("registry", "init").exit_code == 0
    assert (tmp_path / "home" / "registry.sqlite").exists()
    monkeypatch.setenv("CRITMIN_DATABASE_URL", f"sqlite:///{tmp_path / 'other.sqlite'}")
    assert run("registry", "verify").exit_code == 1      # not initialised there
    assert run("registry", "init").exit_code == 0
    assert run("registry", "verify").exit_code == 0
    assert (tmp_path / "other.sqlite").exists()


def test_user_add_token_revoke(registry_url, monkeypatch):
    from critmin.registry import auth
    monkeypatch.setitem(auth._SCRYPT, "n", 2 ** 10)
    assert run("registry", "init", "--database-url", registry_url).exit_code == 0
    res = runner.invoke(app, ["registry", "user", "add", "ins", "--role", "inspector",
                              "--password-stdin", "--token", "--database-url", registry_url],
                        input="a long enough password\n")
    assert res.exit_code == 0, res.output
    token = res.stdout.strip().splitlines()[-1]
    assert token.startswith("cm_")
    bad = runner.invoke(app, ["registry", "user", "add", "x", "--role", "exporter",
                              "--no-password", "--database-url", registry_url])
    assert bad.exit_code == 1 and "party_id" in bad.output
    engine = make_engine(registry_url)
    factory = session_factory(engine)
    with factory() as s:
        assert auth.authenticate(s, token).role == "inspector"
    res = run("registry", "user", "revoke", "ins", "--reason", "left", "--database-url",
              registry_url)
    assert res.exit_code == 0, res.output
    with factory() as s:
        try:
            auth.authenticate(s, token)
            raise AssertionError("a revoked user's token still works")
        except auth.AuthenticationError:
            pass
        assert verify_chain(s).ok
    engine.dispose()


def test_demo_fills_a_fresh_sqlite_registry_once(tmp_path, warehouse_copy):
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    res = run("registry", "demo", "--database-url", url)
    assert res.exit_code == 0, res.output
    assert "SYNTHETIC DEMO REGISTRY" in res.output and "shipments" in res.output
    again = run("registry", "demo", "--database-url", url)
    assert again.exit_code == 1 and "fresh" in again.output
    engine = make_engine(url)
    with session_factory(engine)() as s:
        res = verify_chain(s)
        assert res.ok and res.rows > 5000
    engine.dispose()


def test_verify_prints_an_anchor_and_checks_it(registry_url, make):
    import re
    assert run("registry", "init", "--database-url", registry_url).exit_code == 0
    from critmin.registry import register_exporters
    engine = make_engine(registry_url)
    with session_factory(engine).begin() as s:
        register_exporters(s, "admin", make.exporters())
    engine.dispose()
    res = run("registry", "verify", "--database-url", registry_url)
    anchor = re.search(r"head anchor (\d+:[0-9a-f]{64})", res.output).group(1)
    assert anchor.startswith("2:")
    ok = run("registry", "verify", "--anchor", anchor, "--database-url", registry_url)
    assert ok.exit_code == 0, ok.output
    wrong = run("registry", "verify", "--anchor", "2:" + "0" * 64, "--database-url",
                registry_url)
    assert wrong.exit_code == 1 and "differs from the anchor" in wrong.output
    bad = run("registry", "verify", "--anchor", "two:abc", "--database-url", registry_url)
    assert bad.exit_code == 1 and "SEQ:SHA256" in bad.output
