"""TaskScope agent: shows a running asyncio program's tasks live in VS Code.

The agent lives inside the traced program. It records every task created there
(`hooks`, `registry`), samples their state on a daemon thread (`sampler`, `waits`), finds
the classic task bugs while the program runs (`findings`, `watchdog`) and streams
snapshots, deltas and findings to the extension over one local connection (`transport`,
`protocol`), or into a file (`recorder`). Start it with ``python -m taskscope run``
(`cli`) or by putting ``taskscope/bootstrap`` on ``PYTHONPATH`` with ``TASKSCOPE_CONNECT``
set. docs/agent.md tells the whole story.

This module stays import-light: importing ``taskscope`` starts nothing.
"""

__version__ = "0.1.0"
