"""Generic ARM engine: resource store, type registry, contract checks against Azure SDK models."""
