"""HTTP routes of the Databricks account and workspace APIs over the Unity Catalog model (uc/), as
drsim/arm/routes.py is over the ARM engine; imported by drsim.app.load_routes()."""
