"""--state-dir persistence of the Unity Catalog model: registered as the simulator component
"uc_model", so SIM.save() writes it into state.json and a restart with the same state dir reads
it back (metastores, catalogs, schemas, tables, grants, shares... and workspace assignments).
The table data itself is the SQL engine's."""
import base64

from ...state import SIM
from .metastore import UC


class _Persisted:
    def dump(self):
        return {"pickle": base64.b64encode(UC.dump_state()).decode("ascii")}

    def load(self, blob):
        if blob and blob.get("pickle"):
            UC.load_state(base64.b64decode(blob["pickle"]))


SIM.register_component("uc_model", _Persisted)
