{
  "targets": [
    {
      "target_name": "ntcp_splice",
      "sources": ["native/splice.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror=implicit-function-declaration"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-lm"]
    }
  ]
}
