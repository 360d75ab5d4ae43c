"""Route modules of the simulator core; every module here is imported by drsim.app.load_routes()."""
