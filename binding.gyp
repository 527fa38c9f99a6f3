{
  "targets": [
    {
      "target_name": "syrup_shim",
      "sources": [
        "addon/shim_addon.cc",
        "kernel-shim/region.c",
        "kernel-shim/placement.c",
        "kernel-shim/poller.c",
        "kernel-shim/client.c",
        "kernel-shim/agent_side.c"
      ],
      "include_dirs": [
        "<!@(node -p \"require('node-addon-api').include\")",
        "kernel-shim",
        "kernel-shim/build"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags": ["-O2", "-Wall", "-Wno-unused-parameter"],
      "cflags_cc": ["-O2", "-std=c++17", "-fexceptions", "-Wall", "-Wno-unused-parameter"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lbpf", "-lelf", "-lz", "-lpthread"]
    },
    {
      "target_name": "syrup_net",
      "sources": [
        "addon/net_addon.cc",
        "addon/net_object.cc",
        "addon/net_maps.cc",
        "addon/net_sockets.cc",
        "addon/net_xdp.cc",
        "addon/net_xsk.cc"
      ],
      "include_dirs": [
        "<!@(node -p \"require('node-addon-api').include\")",
        "net/build"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags": ["-O2", "-Wall", "-Wno-unused-parameter"],
      "cflags_cc": ["-O2", "-std=c++17", "-fexceptions", "-Wall", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lbpf", "-lelf", "-lz"]
    }
  ]
}
