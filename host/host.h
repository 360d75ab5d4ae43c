/* Internal interfaces of the host (the files in host/). */
#ifndef DH_HOST_H
#define DH_HOST_H
#include "lua.h"

/* main.c */
int dh_host_verbose(void); /* -v given: reports keep their positions and tracebacks */

/* errors.c: message handler for lua_pcall (turns any error into the printed report, a string,
 * and remembers the exit status it calls for: 130 cancelled, 2 usage, 1 otherwise). */
int dh_msghandler(lua_State *L);
int dh_last_error_status(void);
void dh_clear_last_error(void);
/* On: structured errors report as one line (the REPL), unless -v. */
void dh_set_brief_reports(int on);
/* Runs the function on top of the stack (below it nargs arguments) with dh_msghandler, SIGINT
 * armed. Returns the lua_pcall status; on error the report string is on the stack (and after a
 * cancellation the cleanups have run). */
int dh_docall(lua_State *L, int nargs, int nres);
/* Prints an error report (string on top of the stack) to stderr and pops it. */
void dh_print_report(lua_State *L);

/* signals.c */
void dh_signals_arm(lua_State *L);
void dh_signals_disarm(void);
/* Clears the cancellation and runs (then forgets) the functions registered with
 * errors.on_cancel; called when a chunk ended in CANCELLED. */
void dh_run_cancel_cleanups(lua_State *L);

/* repl.c: the interactive loop (works on a non-tty stdin too). Returns the exit status. */
int dh_repl(lua_State *L);
#endif
