// Above the kernels: tensors and modules crossing between the cpu and the cuda device.
// Results must not depend on the device (random draws, checkpoints), and mixing devices in
// one op is an error that names both.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <map>
#include <unistd.h>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/moe/moe.h"
#include "moegrad/nn/optim/adam.h"
#include "moegrad/nn/safetensors.h"

namespace moegrad::cuda_test {

namespace {
const Device kCuda = Device::cuda(0);

std::string bytes_of(const Tensor& t) {
  const Tensor host = core::to(t, Device::cpu());
  std::string b(static_cast<size_t>(host.numel()) * dtype_size(host.dtype()), '\0');
  if (!b.empty()) std::memcpy(b.data(), host.raw_data(), b.size());
  return b;
}
}  // namespace

TEST_CASE("an op given tensors on two devices names the op and both devices", "[cuda][device]") {
  Tensor a = ones({3}), b = core::to(ones({3}), kCuda);
  CHECK_THROWS_WITH(core::binary(BinaryOp::add, a, b), "add: expected tensors on one device, got cpu and cuda:0");
  CHECK_THROWS_WITH(core::matmul(core::to(ones({2, 2}), kCuda), ones({2, 2})),
                    "matmul: expected tensors on one device, got cuda:0 and cpu");
  CHECK_THROWS_WITH(core::cat({a, b}, 0), "cat: expected tensors on one device, got cpu and cuda:0");
  Tensor idx = from_vector(std::vector<int64_t>{0, 2}, {2}, DType::i64);
  CHECK_THROWS_WITH(core::index_select(b, 0, idx), "index_select: expected tensors on one device, got cuda:0 and cpu");
}

TEST_CASE("random draws give the same bits on every device", "[cuda][device]") {
  Generator g1(7), g2(7);
  Tensor on_cpu = randn({5, 7}, g1, DType::f32);
  Tensor on_cuda = randn({5, 7}, g2, DType::f32, backend_for(kCuda));
  CHECK(on_cuda.device() == kCuda);
  CHECK(bytes_of(on_cuda) == bytes_of(on_cpu));
}

TEST_CASE("to(device) moves values and gradients flow back across it", "[cuda][device]") {
  Tensor x = requires_grad_(tensor({1.0, -2.0, 3.0}));
  Tensor y = to(x, kCuda);
  CHECK(y.device() == kCuda);
  backward(sum(y * y));
  REQUIRE(grad(x).defined());
  CHECK(grad(x).device().is_cpu());
  CHECK(grad(x).to_vector<double>() == std::vector<double>{2.0, -4.0, 6.0});
}

TEST_CASE("Module::to moves parameters and buffers; the optimizer's state lives on the device", "[cuda][device]") {
  Generator gen(1);
  moe::MoEOptions o;
  o.dim = 8;
  o.num_experts = 4;
  moe::SparseMoEBlock block({.moe = o}, gen);
  const nn::StateDict host_state = block.state_dict();
  block.to(kCuda);
  for (const auto& [name, t] : block.state_dict()) {
    CAPTURE(name);
    CHECK(t.device() == kCuda);
    CHECK(bytes_of(t) == bytes_of(*host_state.find(name)));
  }
  nn::AdamW adam(block.named_parameters(), nn::AdamOptions{.lr = 1e-2});
  Tensor x = randn({2, 16, 8}, gen, DType::f32, backend_for(kCuda));
  moe::GatingCall call;
  call.gen = &gen;
  moe::MoEOutput out = block.forward(x, call);
  backward(sum(out.outputs * out.outputs) + sum(out.total_aux_loss));
  adam.step();
  for (const auto& [key, t] : adam.state_dict()) {
    CAPTURE(key);
    // Step counts are host numbers; moments sit beside their parameters.
    if (key.size() > 5 && key.substr(key.size() - 5) == ".step") CHECK(t.device().is_cpu());
    else CHECK(t.device() == kCuda);
  }
  block.to(Device::cpu());
  for (const auto& [name, t] : block.state_dict()) CHECK(t.device().is_cpu());
}

TEST_CASE("a state dict saved from the cuda device is byte-identical to the same values saved from the cpu",
          "[cuda][device]") {
  Generator gen(2);
  nn::StateDict on_cpu, on_cuda;
  for (const char* name : {"a.weight", "b.bias"}) {
    Tensor t = randn({3, 5}, gen, DType::f32);
    on_cpu.set(name, t);
    on_cuda.set(name, core::to(t, kCuda));
  }
  const auto dir = std::filesystem::temp_directory_path() / ("moegrad_cuda_ckpt_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  nn::save_safetensors((dir / "cpu.safetensors").string(), on_cpu);
  nn::save_safetensors((dir / "cuda.safetensors").string(), on_cuda);
  CHECK(nn::read_file((dir / "cpu.safetensors").string()) == nn::read_file((dir / "cuda.safetensors").string()));
  // And back: loading into a module on the device takes the host file's values.
  nn::StateDict back = nn::load_safetensors((dir / "cuda.safetensors").string()).tensors;
  CHECK(bytes_of(*back.find("a.weight")) == bytes_of(*on_cuda.find("a.weight")));
  std::filesystem::remove_all(dir);
}

}  // namespace moegrad::cuda_test
