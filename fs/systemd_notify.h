/*
 * systemd's readiness protocol (sd_notify(3)) without libsystemd: a
 * service of Type=notify tells systemd it is ready by sending
 * "READY=1" in a datagram to the socket named by $NOTIFY_SOCKET.
 */
#ifndef AIDATA_SYSTEMD_NOTIFY_H
#define AIDATA_SYSTEMD_NOTIFY_H

/*
 * Send state (e.g. "READY=1") to $NOTIFY_SOCKET. 0 when sent or when
 * there is no such socket (not run by systemd, or not Type=notify);
 * else -errno, logged once.
 */
int systemd_notify(const char *state);

#endif
