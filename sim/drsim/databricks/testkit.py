"""Test helpers for the Databricks parts (used by sim/tests/test_uc_*, test_sharing_*,
test_account_*, test_jobs_* and available to the SQL tests).

    from drsim.databricks.testkit import estate
    e = estate()          # two regions, two workspaces, two metastores assigned, credentials,
                          # external locations, a managed catalog root each
    e.prod.ws, e.prod.ms, e.dr.ws, e.dr.ms
"""

from ..state import SIM
from .ucmodel import UC

PROD_REGION = "westeurope"
DR_REGION = "northeurope"


class Side:
    def __init__(self, name, region, account):
        self.name = name
        self.region = region
        self.account = account
        self.ws = SIM.register_workspace(f"{name}-ws", region)
        self.ms = UC.create_metastore(f"{name}-metastore", region, "admin")
        UC.assign(int(self.ws["id"]), self.ms.metastore_id, None, region)
        self.ws["metastore_id"] = self.ms.metastore_id
        self.root = f"abfss://uc@{account}.dfs.core.windows.net/"
        self.ms.create_storage_credential(
            f"{name}-cred", "admin",
            azure_managed_identity={"access_connector_id": f"/subscriptions/00000000-0000-0000-"
                                    f"0000-000000000002/resourceGroups/rg-{name}/providers/"
                                    f"Microsoft.Databricks/accessConnectors/ac-{name}"})
        self.ms.create_external_location(f"{name}-root", self.root, f"{name}-cred", "admin")


class Estate:
    def __init__(self):
        self.prod = Side("prod", PROD_REGION, "stprod")
        self.dr = Side("dr", DR_REGION, "stdr")


def estate():
    return Estate()
