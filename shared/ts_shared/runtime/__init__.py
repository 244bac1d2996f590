"""How the platform runs: processes, the embedded system, the gateway, tsctl."""
