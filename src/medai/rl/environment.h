#pragma once
// What a reinforcement learner sees of a task: a set of environments stepped together, with
// observations and actions as rows of floats. A capability (glucose/, later others) implements it.
#include <vector>

namespace medai::rl {

class VectorEnvironment {
 public:
  virtual ~VectorEnvironment() = default;
  virtual int size() const = 0;  // environments stepped together
  virtual int observation_size() const = 0;
  virtual int action_size() const = 0;
  // The current observation of every environment: size() rows of observation_size() floats.
  virtual void observe(float* observations) const = 0;
  // Applies one action row per environment, advances each by one step and fills `reward` and
  // `done` (its episode ended; observe() then shows the final observation until reset_finished()).
  virtual void step(const float* actions, std::vector<double>& reward, std::vector<char>& done) = 0;
  virtual void reset_finished() = 0;
};

}  // namespace medai::rl
