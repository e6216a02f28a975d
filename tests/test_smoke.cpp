#include <catch2/catch.hpp>
#include "autograd/autograd.h"
using namespace moegrad;
TEST_CASE("smoke") { CHECK(zeros({2}).numel() == 2); }
