#include "dh_signal.h"

#include <signal.h>

static volatile sig_atomic_t cancel_flag = 0;

int dh_cancelled(void) { return cancel_flag != 0; }

void dh_set_cancelled(int on) { cancel_flag = on ? 1 : 0; }
