"""The registry API: login and tokens, the authorisation matrix (every role against every
endpoint, forbidden attempts change nothing), bulk JSON and CSV filing, corrections, errors in
one shape. Runs on SQLite and PostgreSQL (conftest `registry`)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from critmin.registry import api, auth, evidence as ev, models as m

ROLES = ("anonymous", "admin", "auditor", "exporter", "laboratory", "inspector")
USERS = {"admin": ("admin", None), "auditor": ("auditor", None),
         "exporter": ("exporter", "EXP1"), "laboratory": ("laboratory", "LAB1"),
         "inspector": ("inspector", None), "exporter2": ("exporter", "EXP2"),
         "state-lab": ("laboratory", "STATE")}


@pytest.fixture()
def world(seeded, built_warehouse, monkeypatch):
    """(client, tokens by role, session factory): the seeded registry (EXP1 declares the odd
    shipments, EXP2 the even ones) with LAB1 assigned as the exporter laboratory of every odd
    shipment and a Cu certificate on each, STATE as S00001's control laboratory and one
    control assay on S00001."""
    import duckdb
    engine, factory = seeded
    # a cheaper scrypt cost keeps the suite fast; the stored hash carries its own parameters
    monkeypatch.setitem(auth._SCRYPT, "n", 2 ** 10)
    tokens = {}
    with factory.begin() as s:
        for user, (role, party) in USERS.items():
            auth.add_user(s, "setup", user, role, party_id=party, password="correct horse 1")
            tokens[user] = auth.issue_token(s, "setup", user)
        ev.register_laboratories(s, "setup", [{"laboratory_id": "LAB2"}])
        for i in range(1, 100, 2):
            ev.assign_laboratory(s, "setup", f"S{i:05d}", "LAB1", "exporter")
        ev.assign_laboratory(s, "setup", "S00001", "STATE", "control")
        ev.file_certificates(s, "setup", [{"shipment_id": f"S{i:05d}", "laboratory_id": "LAB1",
                                           "element": "Cu", "value": 24.1 + (i % 7) / 10,
                                           "unit": "%"} for i in range(1, 100, 2)])
        ev.record_control_assays(s, "setup", [{"shipment_id": "S00001",
                                               "laboratory_id": "STATE", "element": "Cu",
                                               "value": 25.3, "unit": "%"}])
    tokens["anonymous"] = None
    app = api.create_app(engine, max_body_bytes=4 * 1024 * 1024,
                         warehouse=lambda: duckdb.connect(str(built_warehouse), read_only=True))
    with TestClient(app) as client:
        yield client, tokens, factory


def _call(client, token, method, path, body=None, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.request(method, api.PREFIX + path, json=body, headers=headers, **kw)


def _state(factory):
    """Row counts of every table and the last audit seq: what a forbidden call must not move."""
    with factory() as s:
        counts = {t: s.scalar(select(func.count()).select_from(m.Base.metadata.tables[t]))
                  for t in m.Base.metadata.tables if t != "idempotency_keys"}
    return counts


def _terms_text(cu_limit: float = 0.20) -> str:
    """The shipped default terms as YAML text, with the Cu splitting limit set to `cu_limit`."""
    from critmin.oversight.terms import default_terms_path
    text = default_terms_path().read_text()
    return text.replace("bands: [{from_grade: 0.0, absolute: 0.20}]",
                        f"bands: [{{from_grade: 0.0, absolute: {cu_limit}}}]", 1)


def _shipment(sid, exporter="EXP1"):
    return {"shipment_id": sid, "exporter_id": exporter, "hs6": "260300", "wet_t": 10.0,
            "moisture_pct": 10.0, "dry_t": 9.0, "destination": "CHN", "date": "2024-03-01"}


def _cert(sid, lab="LAB1", value=23.0, element="Cu", unit="%"):
    return {"shipment_id": sid, "laboratory_id": lab, "element": element, "value": value,
            "unit": unit}


def _ctrl(sid, lab="STATE"):
    return {"shipment_id": sid, "laboratory_id": lab, "element": "Cu", "value": 25.0,
            "unit": "%"}


# (name, method, path, body or body(role), {role: expected status}); roles not named expect
# 403, anonymous always 401. Writes that succeed for one role run after all refused attempts.
MATRIX = [
    ("register exporter", "POST", "/exporters", {"rows": [{"exporter_id": "EXP9"}]},
     {"admin": 201}),
    ("list exporters", "GET", "/exporters", None,
     {"admin": 200, "inspector": 200, "auditor": 200}),
    ("add user", "POST", "/users", {"user_id": "new", "role": "auditor"}, {"admin": 201}),
    ("list users", "GET", "/users", None, {"admin": 200, "auditor": 200}),
    ("issue token", "POST", "/users/auditor/tokens", {"label": "ci"}, {"admin": 201}),
    ("register a tariff", "POST", "/tariffs",
     {"tariff_id": "T2024", "effective_from": "2024-01-01", "terms_yaml": None},
     {"admin": 201}),
    ("read tariffs", "GET", "/tariffs", None, {"admin": 200, "inspector": 200, "auditor": 200}),
    ("declare own shipment", "POST", "/shipments", {"rows": [_shipment("N1")]},
     {"exporter": 201}),
    ("declare another exporter's shipment", "POST", "/shipments",
     {"rows": [_shipment("N2", "EXP2")]}, {}),
    ("read own shipment", "GET", "/shipments/S00001", None,
     {"exporter": 200, "laboratory": 200, "inspector": 200, "auditor": 200}),
    ("read another exporter's shipment", "GET", "/shipments/S00000", None,
     {"exporter": 404, "laboratory": 404, "inspector": 200, "auditor": 200}),
    ("list shipments", "GET", "/shipments", None,
     {"exporter": 200, "laboratory": 200, "inspector": 200, "auditor": 200}),
    ("assign own lab to own shipment", "POST", "/assignments",
     lambda role: {"shipment_id": "S00013" if role == "inspector" else "S00003",
                   "laboratory_id": "LAB2", "role": "exporter"},
     {"exporter": 201, "inspector": 201}),
    ("exporter picks the control lab", "POST", "/assignments",
     {"shipment_id": "S00005", "laboratory_id": "LAB1", "role": "control"},
     {"inspector": 201}),
    ("assign a lab to another's shipment", "POST", "/assignments",
     {"shipment_id": "S00000", "laboratory_id": "LAB1", "role": "umpire"},
     {"inspector": 201}),
    ("file certificate for assigned shipment", "POST", "/certificates",
     {"rows": [_cert("S00001", value=1.5, element="Au", unit="g/t")]}, {"laboratory": 201}),
    ("file certificate for unassigned shipment", "POST", "/certificates",
     {"rows": [_cert("S00002")]}, {}),
    ("file certificate in another lab's name", "POST", "/certificates",
     {"rows": [_cert("S00001", lab="STATE")]}, {}),
    ("list certificates", "GET", "/certificates", None,
     {"exporter": 200, "laboratory": 200, "inspector": 200, "auditor": 200}),
    ("record control assay", "POST", "/control-assays", {"rows": [_ctrl("S00009")]},
     {"inspector": 201}),
    ("record control assay as a non-control lab", "POST", "/control-assays",
     {"rows": [_ctrl("S00001", lab="LAB1")]}, {"inspector": 201}),
    ("record umpire assay", "POST", "/umpire-assays", {"rows": [_ctrl("S00011", "UMP")]},
     {"inspector": 201}),
    ("alter a filed control assay", "POST", "/control-assays/1/corrections",
     {"expected_version": 1, "reason": "re-weighed", "changes": {"value": 25.0}},
     {"inspector": 201}),
    ("read control assays", "GET", "/control-assays", None,
     {"laboratory": 200, "inspector": 200, "auditor": 200}),
    ("run a selection", "POST", "/selections", {"period": "2024-03", "budget": 3, "seed": 1},
     {"inspector": 201}),
    ("read selections", "GET", "/selections", None, {"inspector": 200, "auditor": 200}),
    ("settle a shipment", "GET", "/shipments/S00001/settlement", None,
     {"inspector": 200, "auditor": 200}),
    ("export certificates", "GET", "/export/certificates.csv", None,
     {"exporter": 200, "laboratory": 200, "inspector": 200, "auditor": 200}),
    ("export audit log", "GET", "/export/audit_log.csv", None,
     {"admin": 200, "auditor": 200}),
    ("verify audit chain", "GET", "/audit/verify", None, {"admin": 200, "auditor": 200}),
    ("read flags", "GET", "/analysis/flags", None, {"inspector": 200, "auditor": 200}),
    ("revoke a user", "POST", "/users/exporter2/revoke", {"reason": "left"}, {"admin": 200}),
]


@pytest.mark.parametrize("case", MATRIX, ids=[c[0] for c in MATRIX])
def test_authorisation_matrix(world, case):
    client, tokens, factory = world
    name, method, path, body, allowed = case
    refused = [r for r in ROLES if allowed.get(r, 403) >= 400]
    granted = [r for r in ROLES if allowed.get(r, 403) < 400]
    for role in refused + granted:  # refused first: each must leave everything unchanged
        expect = 401 if role == "anonymous" else allowed.get(role, 403)
        before = _state(factory)
        data = body(role) if callable(body) else body
        if data and "terms_yaml" in data:
            data = {**data, "terms_yaml": _terms_text()}
        res = _call(client, tokens[role], method, path, data)
        assert res.status_code == expect, (name, role, res.status_code, res.text)
        if expect >= 400:
            err = res.json()["error"]
            assert err["status"] == expect and err["message"]
            assert _state(factory) == before, (name, role, "a refused call wrote")


def test_evidence_has_no_update_or_delete_route(world):
    client, tokens, _ = world
    for method in ("PUT", "PATCH", "DELETE"):
        res = _call(client, tokens["admin"], method, "/control-assays/1", {"value": 1})
        assert res.status_code == 405
        assert res.json()["error"]["code"] == "method_not_allowed"


def test_scoping_of_lists(world):
    client, tokens, _ = world
    mine = _call(client, tokens["exporter"], "GET", "/shipments?limit=10000").json()
    assert mine["count"] == 50 and {r["exporter_id"] for r in mine["data"]} == {"EXP1"}
    lab = _call(client, tokens["laboratory"], "GET", "/shipments").json()
    assert lab["count"] == 50 and {r["exporter_id"] for r in lab["data"]} == {"EXP1"}
    state = _call(client, tokens["state-lab"], "GET", "/shipments").json()
    assert [r["shipment_id"] for r in state["data"]] == ["S00001"]
    other = _call(client, tokens["exporter2"], "GET", "/certificates").json()
    assert other["count"] == 0
    csv_text = _call(client, tokens["exporter2"], "GET", "/export/certificates.csv").text
    assert csv_text.count("\n") == 1  # header only
    everything = _call(client, tokens["inspector"], "GET", "/shipments?limit=5").json()
    assert everything["count"] == 100 and len(everything["data"]) == 5


def test_login_issues_a_session_token_and_revocation_stops_it(world):
    client, tokens, _ = world
    bad = _call(client, None, "POST", "/auth/login", {"user_id": "exporter",
                                                      "password": "wrong password"})
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"] == "Bearer"
    unknown = _call(client, None, "POST", "/auth/login", {"user_id": "nobody",
                                                          "password": "wrong password"})
    assert unknown.json()["error"]["message"] == bad.json()["error"]["message"]
    ok = _call(client, None, "POST", "/auth/login", {"user_id": "exporter",
                                                     "password": "correct horse 1"})
    assert ok.status_code == 200
    session_token = ok.json()["data"]["token"]
    me = _call(client, session_token, "GET", "/me").json()["data"]
    assert (me["user_id"], me["role"], me["party_id"]) == ("exporter", "exporter", "EXP1")
    assert "shipments:declare" in me["may"] and "certificates:file" not in me["may"]
    _call(client, tokens["admin"], "POST", "/users/exporter/revoke", {"reason": "test"})
    for t in (session_token, tokens["exporter"]):
        assert _call(client, t, "GET", "/me").status_code == 401
    assert _call(client, None, "POST", "/auth/login",
                 {"user_id": "exporter", "password": "correct horse 1"}).status_code == 401


def test_expired_token_is_refused(world):
    client, _, factory = world
    with factory.begin() as s:
        token = auth.issue_token(s, "setup", "auditor", kind="session", hours=-1)
    res = _call(client, token, "GET", "/me")
    assert res.status_code == 401 and "expired" in res.json()["error"]["message"]


def _bulk_shipments(factory, n: int) -> list[str]:
    """n more shipments of EXP1 (B00000, ...), LAB1 assigned to each as exporter's lab."""
    ids = [f"B{i:05d}" for i in range(n)]
    with factory.begin() as s:
        ev.declare_shipments(s, "setup", [_shipment(sid) for sid in ids])
        ev.assign_laboratories(s, "setup", [{"shipment_id": sid, "laboratory_id": "LAB1",
                                             "role": "exporter"} for sid in ids])
    return ids


def test_bulk_csv_all_or_nothing_names_the_row(world):
    client, tokens, factory = world
    ships = _bulk_shipments(factory, 1000)
    lines = ["shipment_id,laboratory_id,element,value,unit,method"]
    for i in range(2000):       # Au and Cu of one shipment after another: 2,000 originals
        lines.append(f"{ships[i // 2]},LAB1,{'Cu' if i % 2 else 'Au'},{20 + i % 7},"
                     f"{'%' if i % 2 else 'g/t'},ICP")
    good = "\n".join(lines) + "\n"
    bad_lines = list(lines)
    bad_lines[1234] = bad_lines[1234].replace("LAB1,Cu,", "LAB1,Cu,x")  # data row 1234
    before = _state(factory)
    headers = {"Authorization": f"Bearer {tokens['laboratory']}", "Content-Type": "text/csv"}
    res = client.post(api.PREFIX + "/certificates/csv", content="\n".join(bad_lines),
                      headers=headers)
    assert res.status_code == 422
    err = res.json()["error"]
    assert len(err["errors"]) == 1 and err["errors"][0]["row"] == 1234 and err["errors"][0]["field"] == "value"
    assert _state(factory) == before
    res = client.post(api.PREFIX + "/certificates/csv", content=good,
                      headers={**headers, "Idempotency-Key": "batch-1"})
    assert res.status_code == 201 and res.json()["data"]["count"] == 2000
    again = client.post(api.PREFIX + "/certificates/csv", content=good,
                        headers={**headers, "Idempotency-Key": "batch-1"})
    assert again.status_code == 201 and again.json()["data"]["replayed"] is True
    assert _state(factory)["certificates"] == before["certificates"] + 2000
    other = client.post(api.PREFIX + "/certificates/csv", content=good.replace("ICP", "XRF"),
                        headers={**headers, "Idempotency-Key": "batch-1"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"


# ---------------------------------------------------------------------------------------------
# one original per shipment, laboratory and element


def _csv(rows: list[dict]) -> str:
    cols = ["shipment_id", "laboratory_id", "element", "value", "unit"]
    return "\n".join([",".join(cols)] + [",".join(str(r[c]) for c in cols) for r in rows]) + "\n"


def _post_csv(client, token, rows):
    return client.post(api.PREFIX + "/certificates/csv", content=_csv(rows),
                       headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})


def _cert_id(factory, sid, element="Cu"):
    with factory() as s:
        return s.scalar(select(m.Certificate.id).where(
            m.Certificate.shipment_id == sid, m.Certificate.element == element,
            m.Certificate.supersedes_id.is_(None)))


@pytest.mark.parametrize("body", ["json", "csv"])
def test_a_second_original_is_409_naming_the_row_and_files_nothing(world, body):
    """S00001 already has LAB1's Cu original: a batch that files it again (data row 3) is
    refused whole with 409, naming shipment, laboratory, element, the row and the version to
    correct; the new rows of the batch (Au) are not written either."""
    client, tokens, factory = world
    rows = [_cert("S00003", value=1.2, element="Au", unit="g/t"),
            _cert("S00005", value=1.3, element="Au", unit="g/t"),
            _cert("S00001", value=24.9)]
    before = _state(factory)
    res = (_call(client, tokens["laboratory"], "POST", "/certificates", {"rows": rows})
           if body == "json" else _post_csv(client, tokens["laboratory"], rows))
    assert res.status_code == 409, res.text
    err = res.json()["error"]
    assert (err["status"], err["code"]) == (409, "duplicate_original")
    assert [(e["row"], e["field"]) for e in err["errors"]] == [(3, "element")]
    cid = _cert_id(factory, "S00001")
    for text in (err["message"], err["errors"][0]["problem"]):
        assert "shipment 'S00001', laboratory 'LAB1', element 'Cu'" in text
        assert f"correction of id {cid} with expected_version 1" in text
    assert "row 3" in err["message"]
    assert _state(factory) == before


@pytest.mark.parametrize("body", ["json", "csv"])
def test_a_result_repeated_within_one_batch_is_409_and_files_nothing(world, body):
    client, tokens, factory = world
    rows = [_cert("S00003", value=1.2, element="Au", unit="g/t"),
            _cert("S00005", value=1.3, element="Au", unit="g/t"),
            _cert("S00007", value=1.4, element="Au", unit="g/t"),
            _cert("S00005", value=1.5, element="Au", unit="g/t")]
    before = _state(factory)
    res = (_call(client, tokens["laboratory"], "POST", "/certificates", {"rows": rows})
           if body == "json" else _post_csv(client, tokens["laboratory"], rows))
    assert res.status_code == 409, res.text
    err = res.json()["error"]
    assert err["code"] == "duplicate_original"
    assert [(e["row"], e["field"]) for e in err["errors"]] == [(4, "element")]
    assert "shipment 'S00005', laboratory 'LAB1', element 'Au' repeats row 2" in \
        err["errors"][0]["problem"]
    assert _state(factory) == before
    # without the repeated row the batch files
    ok = _call(client, tokens["laboratory"], "POST", "/certificates", {"rows": rows[:3]})
    assert ok.status_code == 201 and ok.json()["data"]["count"] == 3


def test_a_duplicate_among_invalid_rows_is_422_naming_every_row(world):
    client, tokens, factory = world
    rows = [_cert("S00003", value=-1.0, element="Au", unit="g/t"), _cert("S00001")]
    before = _state(factory)
    res = _call(client, tokens["laboratory"], "POST", "/certificates", {"rows": rows})
    assert res.status_code == 422
    assert [(e["row"], e["field"]) for e in res.json()["error"]["errors"]] == \
        [(1, "value"), (2, "element")]
    assert _state(factory) == before


def test_a_correction_of_the_filed_result_still_works(world):
    """Refused as a second original, the change goes through as a correction (version 2);
    after it, a second original is still refused and the error names version 2."""
    client, tokens, factory = world
    lab = tokens["laboratory"]
    assert _call(client, lab, "POST", "/certificates",
                 {"rows": [_cert("S00001", value=24.9)]}).status_code == 409
    cid = _cert_id(factory, "S00001")
    fixed = _call(client, lab, "POST", f"/certificates/{cid}/corrections",
                  {"expected_version": 1, "reason": "re-assayed", "changes": {"value": 24.9}})
    assert fixed.status_code == 201
    nid = fixed.json()["data"]["ids"][0]
    hist = _call(client, lab, "GET", f"/certificates/{cid}").json()["data"]
    assert [(h["version"], h["value"]) for h in hist] == [(1, pytest.approx(24.2)), (2, 24.9)]
    again = _call(client, lab, "POST", "/certificates", {"rows": [_cert("S00001", value=25.0)]})
    assert again.status_code == 409
    assert f"correction of id {nid} with expected_version 2" in again.json()["error"]["message"]
    # the registry's own analyses see one declared Cu result on S00001: the corrected one
    settled = _call(client, tokens["inspector"], "GET", "/shipments/S00001/settlement")
    assert settled.status_code == 200
    assert settled.json()["data"][0]["seller"] == pytest.approx(24.9)
    bias = _call(client, tokens["inspector"], "GET", "/analysis/bias")
    assert bias.status_code == 200, bias.text


def test_control_and_umpire_assays_take_one_original_per_lab_and_element(world):
    """STATE's Cu control on S00001 exists: another one is 409 even from another sample
    (control_id / sample_id are not part of the key); another laboratory's is accepted. An
    umpire batch repeating a result is 409 too."""
    client, tokens, factory = world
    insp = tokens["inspector"]
    before = _state(factory)
    again = _call(client, insp, "POST", "/control-assays",
                  {"rows": [_ctrl("S00001") | {"sample_id": "S00001-B", "control_id": "K2"}]})
    assert again.status_code == 409
    assert "shipment 'S00001', laboratory 'STATE', element 'Cu'" in \
        again.json()["error"]["errors"][0]["problem"]
    twice = _call(client, insp, "POST", "/umpire-assays",
                  {"rows": [_ctrl("S00001", "UMP"), _ctrl("S00001", "UMP") | {"value": 25.1}]})
    assert twice.status_code == 409 and twice.json()["error"]["errors"][0]["row"] == 2
    assert _state(factory) == before
    other = _call(client, insp, "POST", "/control-assays", {"rows": [_ctrl("S00001", "LAB2")]})
    assert other.status_code == 201


def test_json_validation_errors_name_row_and_field(world):
    client, tokens, factory = world
    rows = [_shipment("V1"), {**_shipment("V2"), "moisture_pct": 120},
            {**_shipment("V3"), "wet_t": -5}, _shipment("S00001")]
    before = _state(factory)
    res = _call(client, tokens["exporter"], "POST", "/shipments", {"rows": rows})
    assert res.status_code == 422
    got = {(e["row"], e["field"]) for e in res.json()["error"]["errors"]}
    assert {(2, "moisture_pct"), (3, "wet_t"), (4, "shipment_id")} <= got
    assert _state(factory) == before
    res = _call(client, tokens["exporter"], "POST", "/shipments", {"rows": []})
    assert res.status_code == 422 and res.json()["error"]["errors"][0]["field"] == "rows"
    res = client.post(api.PREFIX + "/shipments", content=b"{not json",
                      headers={"Authorization": f"Bearer {tokens['exporter']}",
                               "Content-Type": "application/json"})
    assert res.status_code == 422


def test_correction_conflicts_and_history(world):
    client, tokens, _ = world
    certs = _call(client, tokens["laboratory"], "GET",
                  "/certificates?shipment_id=S00001").json()["data"]
    cid = certs[0]["id"]
    body = {"expected_version": 1, "reason": "transcription error", "changes": {"value": 24.6}}
    first = _call(client, tokens["laboratory"], "POST", f"/certificates/{cid}/corrections", body)
    assert first.status_code == 201
    stale = _call(client, tokens["laboratory"], "POST", f"/certificates/{cid}/corrections", body)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "version_conflict"
    hist = _call(client, tokens["auditor"], "GET", f"/certificates/{cid}").json()["data"]
    assert [h["version"] for h in hist] == [1, 2] and hist[0]["value"] == pytest.approx(24.2)
    assert hist[1]["reason"] == "transcription error"
    # another laboratory cannot even see it
    assert _call(client, tokens["state-lab"], "POST", f"/certificates/{cid}/corrections",
                 body).status_code == 404


def test_a_correction_cannot_move_a_result_out_of_the_laboratorys_scope(world):
    """LAB1's own Cu result on S00001: a correction that renames the laboratory (to LAB2) or
    moves it to an even shipment (EXP2's, not assigned to LAB1) is 403 naming the field, and
    writes nothing; the same correction of the value alone goes through."""
    client, tokens, factory = world
    lab = tokens["laboratory"]
    cid = _cert_id(factory, "S00001")
    before = _state(factory)
    for changes, field in (({"laboratory_id": "LAB2"}, "laboratory_id"),
                           ({"shipment_id": "S00002"}, "shipment_id")):
        res = _call(client, lab, "POST", f"/certificates/{cid}/corrections",
                    {"expected_version": 1, "reason": "moved", "changes": changes})
        assert res.status_code == 403, res.text
        assert f"field {field!r}" in res.json()["error"]["message"]
        assert _state(factory) == before
    ok = _call(client, lab, "POST", f"/certificates/{cid}/corrections",
               {"expected_version": 1, "reason": "re-read", "changes": {"value": 24.3}})
    assert ok.status_code == 201


def test_body_limit(world):
    client, tokens, _ = world
    big = b'{"rows": [' + b'{"a": "' + b"x" * (5 * 1024 * 1024) + b'"}]}'
    res = client.post(api.PREFIX + "/shipments", content=big,
                      headers={"Authorization": f"Bearer {tokens['exporter']}",
                               "Content-Type": "application/json"})
    assert res.status_code == 413 and res.json()["error"]["code"] == "too_large"


def test_selection_is_stored_with_seed_and_reasons(world):
    client, tokens, _ = world
    res = _call(client, tokens["inspector"], "POST", "/selections",
                {"period": "2024-03", "budget": 4, "seed": 7})
    assert res.status_code == 201
    sel = res.json()["data"]
    stored = _call(client, tokens["auditor"], "GET",
                   f"/selections/{sel['selection_id']}").json()["data"]
    assert stored["seed"] == 7 and len(stored["picks"]) == 4
    assert {p["reason"] for p in stored["picks"]} <= {"random", "risk", "value"}
    assert stored["picks"][0]["reason"] == "random"  # the random share is never zero
    again = _call(client, tokens["inspector"], "POST", "/selections",
                  {"period": "2024-03", "budget": 4, "seed": 7}).json()["data"]
    assert [p["shipment_id"] for p in again["picks"]] == \
        [p["shipment_id"] for p in stored["picks"]]
    empty = _call(client, tokens["inspector"], "POST", "/selections",
                  {"period": "1999-01", "budget": 4})
    assert empty.status_code == 422 and empty.json()["error"]["errors"][0]["field"] == "period"


def test_settlement_uses_the_splitting_limit_and_umpire_rule(world):
    """S00001: declared Cu 24.2 %, control 25.3 %: |Δ| = 1.1 exceeds the default terms' Cu
    splitting limit (terms_default.yaml), so the umpire decides; with umpire 24.9 the nearer
    party is the control (0.4 vs 0.7) and rule 'mean_umpire_nearer' gives (24.9 + 25.3)/2."""
    from critmin.oversight.terms import default_terms
    client, tokens, factory = world
    limit = default_terms().splitting_limits["Cu"].limit_at(24.7)
    assert 1.1 > limit
    pending = _call(client, tokens["inspector"], "GET", "/shipments/S00001/settlement").json()
    assert pending["data"][0]["basis"] == "umpire pending"
    with factory.begin() as s:
        ev.assign_laboratory(s, "setup", "S00001", "UMP", "umpire")
        ev.record_umpire_assays(s, "setup", [_ctrl("S00001", "UMP") | {"value": 24.9}])
    done = _call(client, tokens["auditor"], "GET", "/shipments/S00001/settlement").json()
    row = done["data"][0]
    rule = default_terms().umpire_rule
    expect = {"mean_umpire_nearer": 25.1, "umpire_final": 24.9}[rule]
    assert row["final"] == pytest.approx(expect, abs=1e-12) and row["basis"] == f"umpire:{rule}"


def test_unknown_route_and_dates_in_one_shape(world):
    client, tokens, _ = world
    res = _call(client, tokens["auditor"], "GET", "/nowhere")
    assert res.status_code == 404 and res.json()["error"]["code"] == "not_found"
    row = _call(client, tokens["auditor"], "GET", "/shipments/S00001").json()["data"]
    assert dt.date.fromisoformat(row["date"]) == dt.date(2024, 1, 2)


def test_a_tariff_sets_the_splitting_limit_from_its_date(world):
    """S00001 (2024-01-02): declared 24.2 %, control 25.3 %. Under the default terms (Cu limit
    0.20 % abs) the umpire is needed; a tariff from 2024-01-01 with a 1.5 % limit splits the
    difference: (24.2 + 25.3)/2 = 24.75. A tariff from 2025 changes nothing for it."""
    client, tokens, _ = world
    before = _call(client, tokens["inspector"], "GET", "/shipments/S00001/settlement").json()
    assert before["meta"]["tariff"] == "default"
    assert before["data"][0]["basis"] == "umpire pending"
    later = {"tariff_id": "T2025", "effective_from": "2025-01-01",
             "terms_yaml": _terms_text(5.0)}
    assert _call(client, tokens["admin"], "POST", "/tariffs", later).status_code == 201
    wide = {"tariff_id": "T2024", "effective_from": "2024-01-01",
            "terms_yaml": _terms_text(1.5), "note": "test"}
    assert _call(client, tokens["admin"], "POST", "/tariffs", wide).status_code == 201
    after = _call(client, tokens["inspector"], "GET", "/shipments/S00001/settlement").json()
    assert after["meta"]["tariff"] == "T2024"
    row = after["data"][0]
    assert row["basis"] == "split" and row["final"] == pytest.approx((24.2 + 25.3) / 2)
    again = _call(client, tokens["admin"], "POST", "/tariffs", wide)
    assert again.status_code == 422 and again.json()["error"]["errors"][0]["field"] == \
        "tariff_id"
    bad = _call(client, tokens["admin"], "POST", "/tariffs",
                {"tariff_id": "BAD", "effective_from": "2024-06-01",
                 "terms_yaml": _terms_text().replace("payable_fraction: 0.965",
                                                     "payable_fraction: 1.7")})
    assert bad.status_code == 422
    problem = bad.json()["error"]["errors"][0]
    assert problem["field"] == "terms_yaml" and "line" in problem["problem"]
