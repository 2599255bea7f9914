// fastann/cpu/cpu_info.hpp: what the CPU is (vendor, family/model, brand string) and its data cache sizes,
// read once at run time. The packed GEMM derives its cache blocking from these (gemm.hpp, gemm_blocking);
// build_info() reports both.
#pragma once

#include <cstdint>
#include <string>

namespace fastann::cpu {

struct CpuInfo {
  std::string vendor;      // CPUID leaf 0: "GenuineIntel", "AuthenticAMD", ...; "" off x86
  std::string model_name;  // CPUID leaves 0x80000002-4 (the brand string), trimmed
  int family = 0;          // display family and model (base + extended fields, as Linux's /proc/cpuinfo)
  int model = 0;
  int stepping = 0;
  // Data cache sizes in bytes of the cache the calling core sees at each level (per instance, not summed
  // over instances), and how many logical CPUs share one instance.
  int64_t l1d_bytes = 0, l2_bytes = 0, l3_bytes = 0;
  int l2_shared_cpus = 0, l3_shared_cpus = 0;
  // Where the sizes came from: "sysfs" (/sys/devices/system/cpu/cpu0/cache), "cpuid" (leaf 4 on Intel,
  // 0x8000001D on AMD) or "default" (neither answered: 32 KiB / 1 MiB / 32 MiB assumed).
  std::string cache_source;
};

// Read on the first call (sysfs first, then CPUID); every later call returns the same object.
const CpuInfo& cpu_info();

}  // namespace fastann::cpu
