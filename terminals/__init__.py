"""Terminal-side code: the client library counters, kiosks, gates and handhelds use, and their CLIs."""
