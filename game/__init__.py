"""The game rules of Doodle Party, sans I/O: commands in, new state and events out.

Modules: ``rules`` (every phase transition: ``create_room``, ``apply``, ``next_deadline``,
``check_stroke``, ``is_recognition_open``), ``state``, ``commands``, ``events``, ``settings``,
``errors``, ``scoring`` and ``codes``. Nothing here reads a clock, touches the network or storage,
or draws from a global random generator: the edge passes ``now`` and seeds in.
"""
