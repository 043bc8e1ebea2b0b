#pragma once
// Exit codes that cross processes: the trainer's are read by the worker (and
// reported to the coordinator), the daemons' by supervisors (Kubernetes,
// systemd) and tests. Named once here; values follow sysexits.h where one fits.
// Header-only, no dependencies: the trainer includes it too.

namespace tunefleet::exit_codes {

inline constexpr int kOk = 0;
inline constexpr int kFailure = 1;  // a plain error, said on stderr
// EX_DATAERR: the coordinator's database is not one it may start on
// (foreign, empty without --init, an unreadable row with --bad-rows=refuse).
inline constexpr int kDatabaseRefused = 65;
// EX_UNAVAILABLE: another coordinator holds the database's lock.
inline constexpr int kDatabaseInUse = 69;
// EX_SOFTWARE: an internal error (an exception reached main).
inline constexpr int kInternalError = 70;
// EX_OSERR: the trainer's memory was refused (an allocation failed, most
// often at the address-space limit its worker set): the worker names the limit.
inline constexpr int kOutOfMemory = 71;
// EX_TEMPFAIL: the trainer stopped after a committed checkpoint (SIGTERM, a
// drain): resumable, not a failure.
inline constexpr int kStoppedAfterCheckpoint = 75;
// EX_NOPERM: the trainer is a stale attempt of its job: a newer attempt has
// started on the job's checkpoints, so this one may not commit (or resume);
// it exits without committing (trainer/checkpoint/attempt_fence.h).
inline constexpr int kAttemptFenced = 77;

}  // namespace tunefleet::exit_codes
