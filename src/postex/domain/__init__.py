"""Pure postal rules: identifiers, validation, events and state machines. No I/O."""
