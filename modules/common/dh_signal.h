/* Cancellation (SIGINT). The host's signal handler sets the flag; modules doing long waits (http's
 * multi loop, sleeps) poll dh_cancelled() and raise {code="CANCELLED"} when it is set.
 *
 * The host also interrupts running Lua code with a hook raising CANCELLED that stays installed, and
 * the flag stays set, until the host has unwound: once cancelled, every later request and every
 * later Lua step fails with CANCELLED. Cleanup goes through errors.on_cancel (run by the host with
 * the flag cleared). A second SIGINT while the flag is set kills the process. */
#ifndef DH_SIGNAL_H
#define DH_SIGNAL_H
int dh_cancelled(void);
void dh_set_cancelled(int on); /* async-signal-safe */
#endif
