# Credentials for a throwaway deployment (tools/demo, tools/bench): random tokens in owner-only
# files, and the files that name them. Never put a token in argv: other users can read it there.

# new_token FILE: writes a fresh random token to FILE (mode 0600).
new_token() {
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$1")
}

# coordinators_file FILE ID TOKEN_FILE PUBLIC_KEY: what an ExampleBank serving coordinator ID reads.
coordinators_file() {
    printf '[{"id": "%s", "tokenFile": "%s", "publicKeys": ["%s"]}]\n' "$2" "$3" "$4" >"$1"
}
