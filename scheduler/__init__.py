"""The scheduler process (its own process, one active): the job table (job_table.py),
the jobs (jobs.py), running them from watermarks (runner.py), the leader lock
(leader.py) and the process loop (process.py); outbox delivery is delivery.py.
Jobs compute with `services/` and only ever write to the outbox."""
