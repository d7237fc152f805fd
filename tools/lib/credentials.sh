# Credentials for a throwaway deployment (tools/demo, tools/bench): random tokens in owner-only
# files, and the files that name them. Never put a token in argv: other users can read it there.

# new_token FILE: writes a fresh random token to FILE (mode 0600).
new_token() {
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$1")
}

# coordinators_file FILE ID TOKEN_FILE PUBLIC_KEY [MORE_ID...]: what an ExampleBank serving
# coordinator ID reads; each further id gets a fresh token in TOKEN_FILE's name plus "-MORE_ID".
coordinators_file() {
    local file="$1" id="$2" token="$3" key="$4" more entries
    entries="{\"id\": \"$id\", \"tokenFile\": \"$token\", \"publicKeys\": [\"$key\"]}"
    shift 4
    for more in "$@"; do
        new_token "${token%.token}-$more.token"
        entries+=", {\"id\": \"$more\", \"tokenFile\": \"${token%.token}-$more.token\", \"publicKeys\": [\"$key\"]}"
    done
    printf '[%s]\n' "$entries" >"$file"
}
