"""Code both emulators share: the test clock, the request log and the `/_emulator/` control helpers."""
