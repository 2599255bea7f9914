// cpu_info.cpp: the CPU's identity and data cache sizes, read once at run time (no ISA flags).
//
// Identity from CPUID (leaf 0: vendor; leaf 1: family, model, stepping; leaves 0x80000002-4: brand string).
// Cache sizes from Linux's sysfs (/sys/devices/system/cpu/cpu0/cache/index*/{level,type,size,
// shared_cpu_list}), which also holds under a hypervisor that passes through what the guest should see;
// without sysfs, from CPUID's deterministic cache parameters (leaf 4 on Intel, 0x8000001D on AMD):
// size = ways x partitions x line size x sets.
#include "fastann/cpu/cpu_info.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace fastann::cpu {
namespace {

std::string trim(std::string s) {
  const size_t b = s.find_first_not_of(" \t\n\r");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\n\r");
  return s.substr(b, e - b + 1);
}

bool read_line(const std::string& path, std::string* out) {
  std::ifstream f(path);
  if (!f) return false;
  std::getline(f, *out);
  *out = trim(*out);
  return true;
}

// "32K", "1024K", "32M", "65536" -> bytes; 0 when unparsable.
int64_t parse_size(const std::string& s) {
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (end == s.c_str() || v <= 0) return 0;
  switch (*end) {
    case 'K': case 'k': return int64_t(v) << 10;
    case 'M': case 'm': return int64_t(v) << 20;
    case 'G': case 'g': return int64_t(v) << 30;
    default: return int64_t(v);
  }
}

// "0-1", "0,2,4-7" -> the number of CPUs listed.
int count_cpu_list(const std::string& s) {
  int count = 0;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) {
    int lo = 0, hi = 0;
    if (std::sscanf(part.c_str(), "%d-%d", &lo, &hi) == 2) count += hi - lo + 1;
    else if (std::sscanf(part.c_str(), "%d", &lo) == 1) count += 1;
  }
  return count;
}

bool caches_from_sysfs(CpuInfo* info) {
  bool any = false;
  for (int i = 0; i < 16; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::string level, type, size, shared;
    if (!read_line(dir + "level", &level) || !read_line(dir + "type", &type) || !read_line(dir + "size", &size))
      continue;
    if (type == "Instruction") continue;
    const int64_t bytes = parse_size(size);
    if (bytes <= 0) continue;
    const int sharing = read_line(dir + "shared_cpu_list", &shared) ? count_cpu_list(shared) : 0;
    if (level == "1") info->l1d_bytes = bytes;
    else if (level == "2") info->l2_bytes = bytes, info->l2_shared_cpus = sharing;
    else if (level == "3") info->l3_bytes = bytes, info->l3_shared_cpus = sharing;
    else continue;
    any = true;
  }
  return any && info->l1d_bytes > 0 && info->l2_bytes > 0;
}

#if defined(__x86_64__) || defined(__i386__)
bool caches_from_cpuid(CpuInfo* info) {
  unsigned leaf = 0;
  if (info->vendor == "GenuineIntel") {
    leaf = 4;
    if (__get_cpuid_max(0, nullptr) < leaf) return false;
  } else if (info->vendor == "AuthenticAMD" || info->vendor == "HygonGenuine") {
    leaf = 0x8000001D;
    if (__get_cpuid_max(0x80000000, nullptr) < leaf) return false;
  } else {
    return false;
  }
  bool any = false;
  for (unsigned sub = 0; sub < 16; ++sub) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    __cpuid_count(leaf, sub, a, b, c, d);
    const unsigned type = a & 0x1f;  // 0 none (end of list), 1 data, 2 instruction, 3 unified
    if (type == 0) break;
    if (type == 2) continue;
    const int level = (a >> 5) & 0x7;
    const int sharing = int((a >> 14) & 0xfff) + 1;
    const int64_t bytes = int64_t((b >> 22) + 1) * int64_t(((b >> 12) & 0x3ff) + 1) * int64_t((b & 0xfff) + 1) *
                          int64_t(c + 1);
    if (level == 1) info->l1d_bytes = bytes;
    else if (level == 2) info->l2_bytes = bytes, info->l2_shared_cpus = sharing;
    else if (level == 3) info->l3_bytes = bytes, info->l3_shared_cpus = sharing;
    any = true;
  }
  return any && info->l1d_bytes > 0 && info->l2_bytes > 0;
}

void identity_from_cpuid(CpuInfo* info) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return;
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  info->vendor = vendor;
  if (a >= 1 && __get_cpuid(1, &a, &b, &c, &d)) {
    const int base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
    const int ext_family = (a >> 20) & 0xff, ext_model = (a >> 16) & 0xf;
    info->family = base_family == 0xf ? base_family + ext_family : base_family;
    info->model = (base_family == 0x6 || base_family == 0xf) ? (ext_model << 4) | base_model : base_model;
    info->stepping = a & 0xf;
  }
  if (__get_cpuid_max(0x80000000, nullptr) >= 0x80000004) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      __get_cpuid(0x80000002 + i, &a, &b, &c, &d);
      std::memcpy(brand + 16 * i, &a, 4);
      std::memcpy(brand + 16 * i + 4, &b, 4);
      std::memcpy(brand + 16 * i + 8, &c, 4);
      std::memcpy(brand + 16 * i + 12, &d, 4);
    }
    info->model_name = trim(brand);
  }
}
#endif

CpuInfo detect() {
  CpuInfo info;
#if defined(__x86_64__) || defined(__i386__)
  identity_from_cpuid(&info);
#endif
  if (caches_from_sysfs(&info)) {
    info.cache_source = "sysfs";
#if defined(__x86_64__) || defined(__i386__)
  } else if (CpuInfo c = info; caches_from_cpuid(&c)) {
    info = c;
    info.cache_source = "cpuid";
#endif
  } else {
    info.l1d_bytes = int64_t(32) << 10;
    info.l2_bytes = int64_t(1) << 20;
    info.l3_bytes = int64_t(32) << 20;
    info.cache_source = "default";
  }
  return info;
}

}  // namespace

const CpuInfo& cpu_info() {
  static const CpuInfo info = detect();
  return info;
}

}  // namespace fastann::cpu
