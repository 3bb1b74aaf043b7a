"""The scheduler process (its own process, one active): job table, lunar-aware
calendar, jobs and outbox delivery. Filled in by the scheduler issue; it calls
`services/` like the chat and the console do."""
