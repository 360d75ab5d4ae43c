#include "dh_signal.h"

#include <signal.h>

static volatile sig_atomic_t cancel_flag = 0;
static volatile sig_atomic_t wait_depth = 0;

int dh_cancelled(void) { return cancel_flag != 0; }

void dh_set_cancelled(int on) { cancel_flag = on ? 1 : 0; }

void dh_wait_begin(void) { wait_depth = wait_depth + 1; }

void dh_wait_end(void) {
  if (wait_depth > 0) wait_depth = wait_depth - 1;
}

int dh_waiting(void) { return wait_depth > 0; }
