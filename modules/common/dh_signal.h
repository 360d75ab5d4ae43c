/* Cancellation (SIGINT). The host's signal handler sets the flag; modules doing long waits (http's
 * multi loop, sleeps) poll dh_cancelled() and raise {code="CANCELLED"} when it is set. */
#ifndef DH_SIGNAL_H
#define DH_SIGNAL_H
int dh_cancelled(void);
void dh_set_cancelled(int on); /* async-signal-safe */
#endif
