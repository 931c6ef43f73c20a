//! Link settings for a Node addon (N-API symbols come from the loading process).

fn main() {
    napi_build::setup();
}
