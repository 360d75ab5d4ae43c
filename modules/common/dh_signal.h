/* Cancellation (SIGINT). The host's signal handler sets the flag; modules doing long waits (http's
 * multi loop, sleeps) poll dh_cancelled() and raise {code="CANCELLED"} when it is set.
 *
 * Outside waits the host also interrupts running Lua code (a hook raising CANCELLED). A C wait
 * brackets itself with dh_wait_begin()/dh_wait_end() so that a SIGINT during it only sets the flag
 * and the waiting code raises CANCELLED itself (then no second CANCELLED hits the Lua code that
 * catches the first). After raising, dh_cancel_consume() clears the flag so cleanup code (releasing
 * a lease) can still make requests; a second SIGINT while the flag is set kills the process. */
#ifndef DH_SIGNAL_H
#define DH_SIGNAL_H
int dh_cancelled(void);
void dh_set_cancelled(int on); /* async-signal-safe */
void dh_cancel_consume(void);
void dh_wait_begin(void);
void dh_wait_end(void);
int dh_waiting(void); /* async-signal-safe: inside a bracketed wait */
#endif
