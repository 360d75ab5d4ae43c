"""The UC model's Python API (what the SQL engine relies on), without HTTP."""
import pytest

from drsim.databricks.ucmodel import UCError, UCStore, split_name


@pytest.fixture
def ms():
    store = UCStore()
    m = store.create_metastore("prod", "westeurope", "admin")
    m.create_storage_credential("cred", "admin", azure_managed_identity={"access_connector_id": "/ac"})
    m.create_external_location("root", "abfss://uc@st.dfs.core.windows.net/", "cred", "admin")
    m.create_catalog("c", "admin", storage_root="abfss://uc@st.dfs.core.windows.net/c")
    m.create_schema("c", "s", "admin")
    return m


def test_names():
    assert split_name("A.`b.c`.D", 3) == ["a", "b.c", "d"]
    assert split_name("`we``ird`.s", 2) == ["we`ird", "s"]
    with pytest.raises(UCError) as ei:
        split_name("a.b", 3)
    assert ei.value.status == 400


def test_replace_keeps_identity(ms):
    t = ms.create_table("c.s.t", "alice", columns=[{"name": "a", "type_text": "int"}], comment="v1")
    t.data_ref = "phys_1"
    ms.update_grants("table", "c.s.t", [{"principal": "bob", "add": ["SELECT"]}])
    ms.set_tags("table", "c.s.t", {"pii": ""})
    ms.history_append("c.s.t", "CREATE TABLE", user="alice")
    t2 = ms.create_table("c.s.t", "carol", columns=[{"name": "b", "type_text": "string"}], replace=True)
    assert t2 is t and t2.table_id == t.table_id and t2.owner == "alice" and t2.data_ref == "phys_1"
    assert ms.get_grants("table", "c.s.t") == [{"principal": "bob", "privileges": ["SELECT"]}]
    assert ms.get_tags("table", "c.s.t") == {"pii": ""}
    assert [c.name for c in t2.columns] == ["b"] and t2.comment is None
    assert t2.current_version == 0
    with pytest.raises(UCError) as ei:
        ms.create_table("c.s.t", "x")
    assert ei.value.reason == "TABLE_ALREADY_EXISTS" and ei.value.status == 409
    assert ms.create_table("c.s.t", "x", if_not_exists=True) is t


def test_history_versions(ms):
    ms.create_table("c.s.t", "a", columns=[{"name": "a", "type_text": "int"}])
    v0 = ms.history_append("c.s.t", "CREATE TABLE")
    v1 = ms.history_append("c.s.t", "CLONE", {"source": "p.s.t", "sourceVersion": 7, "isShallow": False},
                           "sp", operationMetrics={"numCopiedFiles": "3"})
    assert (v0["version"], v1["version"]) == (0, 1)
    h = ms.history("c.s.t")
    assert [v["version"] for v in h] == [1, 0]
    assert h[0]["operationParameters"]["sourceVersion"] == 7 and h[0]["operationMetrics"] == {"numCopiedFiles": "3"}
    assert ms.history("c.s.t", limit=1) == h[:1]


def test_views_and_columns(ms):
    ms.create_table("c.s.t", "a", columns=[{"name": "email", "type_text": "string"}])
    with pytest.raises(UCError):
        ms.create_table("c.s.v", "a", table_type="VIEW")
    v = ms.create_table("c.s.v", "a", table_type="VIEW", view_definition="SELECT * FROM c.s.t",
                        view_dependencies=["C.S.T"], columns=[{"name": "email", "type_text": "string"}])
    assert v.is_view and v.storage_location is None and v.data_source_format is None
    assert v.info()["view_dependencies"] == {"dependencies": [{"table": {"table_full_name": "c.s.t"}}]}
    ms.set_tags("table", "c.s.t", {"class": "pii"}, column="EMAIL")
    ms.update_table("c.s.t", columns=[{"name": "email", "type_text": "string", "comment": "addr"},
                                      {"name": "n", "type_text": "decimal(10,2)"}])
    t = ms.get_table("c.s.t")
    assert t.column("email").tags == {"class": "pii"} and t.column("n").type_name == "DECIMAL"
    ms.set_column_mask("c.s.t", "email", "c.s.mask", ["n"])
    assert t.column("email").info()["mask"] == {"function_name": "c.s.mask", "using_column_names": ["n"]}
    with pytest.raises(UCError) as ei:
        ms.create_table("c.s.dup", "a", columns=[{"name": "x", "type_text": "int"}, {"name": "X", "type_text": "int"}])
    assert ei.value.reason == "COLUMN_ALREADY_EXISTS"


def test_effective_grants_include_metastore_and_filter_by_type(ms):
    ms.update_grants("metastore", ms.metastore_id, [{"principal": "admins", "add": ["CREATE_CATALOG"]}])
    ms.update_grants("catalog", "c", [{"principal": "g", "add": ["USE_CATALOG", "USE_SCHEMA", "SELECT"]}])
    eff = {e["principal"]: e["privileges"] for e in ms.effective_grants("schema", "c.s")}
    assert {p["privilege"] for p in eff["g"]} == {"USE_SCHEMA", "SELECT"}
    assert "admins" not in eff    # CREATE_CATALOG does not apply to a schema
    eff = ms.effective_grants("catalog", "c")
    assert eff[0]["principal"] == "g"
    ms.create_table("c.s.t", "owner1", columns=[{"name": "a", "type_text": "int"}])
    assert ms.has_privilege("g", "table", "c.s.t", "SELECT")
    assert not ms.has_privilege("g", "table", "c.s.t", "MODIFY")
    assert ms.has_privilege("owner1", "table", "c.s.t", "MODIFY")
    with pytest.raises(UCError):
        ms.update_grants("catalog", "c", [{"principal": "g", "add": ["SELECT"]}, {"principal": "h", "add": ["READ_FILES"]}])
    # validated as a whole: nothing changed
    assert ms.get_grants("catalog", "c", "h") == []


def test_locations_and_storage(ms):
    with pytest.raises(UCError) as ei:
        ms.create_external_location("sub", "abfss://uc@st.dfs.core.windows.net/x/y", "cred", "a")
    assert ei.value.reason == "LOCATION_OVERLAP"
    ms.create_table("c.s.e", "a", table_type="EXTERNAL", data_source_format="PARQUET",
                    storage_location="abfss://uc@st.dfs.core.windows.net/ext/e",
                    columns=[{"name": "a", "type_text": "int"}])
    with pytest.raises(UCError) as ei:
        ms.create_volume("c", "s", "v", "a", volume_type="EXTERNAL",
                         storage_location="abfss://uc@st.dfs.core.windows.net/ext/e/sub")
    assert ei.value.reason == "LOCATION_OVERLAP"
    t = ms.create_table("c.s.m", "a", columns=[{"name": "a", "type_text": "int"}])
    assert t.storage_location.startswith("abfss://uc@st.dfs.core.windows.net/c/__unitystorage/catalogs/")
    with pytest.raises(UCError):
        ms.delete_external_location("root")
    with pytest.raises(UCError) as ei:
        ms.create_catalog("nowhere", "a")
    assert ei.value.reason == "STORAGE_ROOT_REQUIRED"


def test_system_and_delete_rules(ms):
    assert ms.get_catalog("system").catalog_type == "SYSTEM_CATALOG"
    with pytest.raises(UCError) as ei:
        ms.create_schema("system", "x", "a")
    assert ei.value.status == 403
    ms.create_table("c.s.t", "a", columns=[{"name": "a", "type_text": "int"}])
    with pytest.raises(UCError) as ei:
        ms.delete_catalog("c")
    assert ei.value.reason == "CATALOG_NOT_EMPTY"
    ms.delete_catalog("c", force=True)
    with pytest.raises(UCError) as ei:
        ms.get_table("c.s.t")
    assert ei.value.reason == "CATALOG_DOES_NOT_EXIST"


def test_rename_table_within_schema_only(ms):
    ms.create_schema("c", "other", "a")
    ms.create_table("c.s.t", "a", columns=[{"name": "a", "type_text": "int"}])
    ms.update_table("c.s.t", new_name="c.s.t2")
    assert ms.get_table("c.s.t2").name == "t2"
    ms.update_table("c.s.t2", new_name="s.t3")
    ms.update_table("c.s.t3", new_name="t4")
    with pytest.raises(UCError) as ei:
        ms.update_table("c.s.t4", new_name="c.other.t4")
    assert ei.value.reason == "CANNOT_RENAME_ACROSS_SCHEMA"
    assert ms.get_table("c.s.t4").name == "t4"


def test_view_privileges(ms):
    ms.create_table("c.s.t", "a", columns=[{"name": "a", "type_text": "int"}])
    ms.create_table("c.s.v", "a", table_type="VIEW", view_definition="SELECT a FROM c.s.t")
    ms.update_grants("view", "c.s.v", [{"principal": "g", "add": ["SELECT"]}])
    with pytest.raises(UCError) as ei:
        ms.update_grants("table", "c.s.v", [{"principal": "g", "add": ["MODIFY"]}])
    assert "[VIEW]" in ei.value.message
    ms.update_grants("table", "c.s.t", [{"principal": "g", "add": ["MODIFY"]}])
    ms.update_grants("schema", "c.s", [{"principal": "h", "add": ["MODIFY", "SELECT"]}])
    eff = ms.effective_grants("table", "c.s.v", "h")[0]["privileges"]
    assert [p["privilege"] for p in eff] == ["SELECT"]
