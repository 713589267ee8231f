"""Ray owner actors: thin shells around the pure engine, one sequential owner per piece of state."""
