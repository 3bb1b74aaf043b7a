"""The scheduler process (its own process, one active; entry `python -m bot scheduler`,
process.py): the job table (job_table.py), the jobs (jobs.py), running them from
watermarks (runner.py), the leader lock (leader.py) and the process loop (process.py).
Jobs compute with `services/` and only ever write to the outbox; delivering it is the
worker process (worker/). time_travel.py is the sandbox's "jump in time" (jobs, then
delivery, as of a chosen day)."""
