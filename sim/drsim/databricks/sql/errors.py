"""SQL errors with Databricks error classes.

A failed statement reports, like the real Statement Execution API:
  status.state = "FAILED", status.sql_state = "<SQLSTATE>",
  status.error = {"error_code": <ServiceErrorCode, e.g. BAD_REQUEST>,
                  "message": "[ERROR_CLASS] human text SQLSTATE: <SQLSTATE>"}
so a client reads the error class from the bracketed prefix of the message.
"""
from __future__ import annotations

# error class -> (SQLSTATE, service error code)
_CLASSES = {
    "PARSE_SYNTAX_ERROR": ("42601", "BAD_REQUEST"),
    "TABLE_OR_VIEW_NOT_FOUND": ("42P01", "BAD_REQUEST"),
    "TABLE_OR_VIEW_ALREADY_EXISTS": ("42P07", "BAD_REQUEST"),
    "SCHEMA_NOT_FOUND": ("42704", "BAD_REQUEST"),
    "SCHEMA_ALREADY_EXISTS": ("42P06", "BAD_REQUEST"),
    "SCHEMA_NOT_EMPTY": ("2BP01", "BAD_REQUEST"),
    "CATALOG_NOT_FOUND": ("42P08", "BAD_REQUEST"),
    "CATALOG_ALREADY_EXISTS": ("42P04", "BAD_REQUEST"),
    "NO_SUCH_CATALOG_EXCEPTION": ("42704", "BAD_REQUEST"),
    "ROUTINE_NOT_FOUND": ("42883", "BAD_REQUEST"),
    "ROUTINE_ALREADY_EXISTS": ("42723", "BAD_REQUEST"),
    "VOLUME_NOT_FOUND": ("42704", "BAD_REQUEST"),
    "VOLUME_ALREADY_EXISTS": ("42000", "BAD_REQUEST"),
    "UNRESOLVED_COLUMN": ("42703", "BAD_REQUEST"),
    "UNRESOLVED_ROUTINE": ("42883", "BAD_REQUEST"),
    "PERMISSION_DENIED": ("42501", "PERMISSION_DENIED"),
    "INVALID_PARAMETER_VALUE": ("22023", "BAD_REQUEST"),
    "UNBOUND_SQL_PARAMETER": ("42P02", "BAD_REQUEST"),
    "UNSUPPORTED_FEATURE": ("0A000", "BAD_REQUEST"),
    "NOT_SUPPORTED_WITH_DB_SQL": ("0A000", "BAD_REQUEST"),
    "DELTA_VERSIONS_NOT_CONTIGUOUS": ("KD00C", "BAD_REQUEST"),
    "DELTA_FILE_NOT_FOUND_DETAILED": ("42K03", "BAD_REQUEST"),
    "DELTA_MISSING_TRANSACTION_LOG": ("42000", "BAD_REQUEST"),
    "INVALID_PRIVILEGE": ("42000", "BAD_REQUEST"),
    "EXPECT_TABLE_NOT_VIEW": ("42809", "BAD_REQUEST"),
    "EXPECT_VIEW_NOT_TABLE": ("42809", "BAD_REQUEST"),
    "INSERT_COLUMN_ARITY_MISMATCH": ("21S01", "BAD_REQUEST"),
    "DATATYPE_MISMATCH": ("42K09", "BAD_REQUEST"),
    "CAST_INVALID_INPUT": ("22018", "BAD_REQUEST"),
    "DELTA_SHARING_ERROR": ("42000", "BAD_REQUEST"),
    "INVALID_LOCATION": ("42000", "BAD_REQUEST"),
    "INTERNAL_ERROR": ("XX000", "INTERNAL_ERROR"),
    "CANCELLED": ("HY008", "CANCELLED"),
}


class SqlError(Exception):
    def __init__(self, error_class: str, message: str, sql_state: str | None = None,
                 error_code: str | None = None):
        super().__init__(message)
        state, code = _CLASSES.get(error_class, ("42000", "BAD_REQUEST"))
        self.error_class = error_class
        self.text = message
        self.sql_state = sql_state or state
        self.error_code = error_code or code

    @property
    def message(self) -> str:
        return f"[{self.error_class}] {self.text} SQLSTATE: {self.sql_state}"

    def as_status_error(self) -> dict:
        return {"error_code": self.error_code, "message": self.message}

    @classmethod
    def parse(cls, what: str, pos: int | None = None) -> "SqlError":
        where = f" (pos {pos})" if pos is not None else ""
        return cls("PARSE_SYNTAX_ERROR", f"Syntax error: {what}{where}.")

    @classmethod
    def not_found(cls, kind: str, name: str) -> "SqlError":
        cls_name = {"TABLE": "TABLE_OR_VIEW_NOT_FOUND", "VIEW": "TABLE_OR_VIEW_NOT_FOUND",
                    "SCHEMA": "SCHEMA_NOT_FOUND", "CATALOG": "NO_SUCH_CATALOG_EXCEPTION",
                    "FUNCTION": "ROUTINE_NOT_FOUND", "VOLUME": "VOLUME_NOT_FOUND"}.get(kind, "TABLE_OR_VIEW_NOT_FOUND")
        if cls_name == "TABLE_OR_VIEW_NOT_FOUND":
            text = (f"The table or view {name} cannot be found. Verify the spelling and correctness "
                    "of the schema and catalog.")
        elif cls_name == "SCHEMA_NOT_FOUND":
            text = f"The schema {name} cannot be found. Verify the spelling and correctness of the schema and catalog."
        elif cls_name == "NO_SUCH_CATALOG_EXCEPTION":
            text = f"Catalog '{name}' was not found. Please verify the catalog name and then retry the query or command again."
        elif cls_name == "ROUTINE_NOT_FOUND":
            text = f"The routine {name} cannot be found. Verify the spelling and correctness of the schema and catalog."
        else:
            text = f"Volume {name} does not exist."
        return cls(cls_name, text)


def quote_name(*parts: str) -> str:
    return ".".join("`" + p.replace("`", "``") + "`" for p in parts)
