#pragma once
// The PhysioNet/CinC Challenge 2012 format: one file per ICU stay (`Time,Parameter,Value`, Time
// `HH:MM` since admission, the descriptors RecordID, Age, Gender, Height, ICUType, Weight at 00:00
// with -1 for missing) and an outcomes file (`RecordID,...,In-hospital_death`). Values outside the
// physiologic ranges below are dropped and counted (docs/icu.md lists them and why).
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace medai::icu {

// The 37 time-varying variables (Weight included: it is both a descriptor and a series).
const std::vector<std::string>& series_names();

struct Observation {
  float minutes = 0;
  int variable = 0;  // index into series_names()
  float value = 0;
};

struct Stay {
  int64_t record_id = 0;
  float age = NAN, gender = NAN, height = NAN, icu_type = NAN, weight = NAN;  // NaN = missing
  std::vector<Observation> observations;  // in file order (time ascending in the challenge files)
};

// Per variable: observations kept and dropped as implausible.
struct CleaningReport {
  std::map<std::string, size_t> kept, dropped;
  size_t stays = 0;
  void merge(const CleaningReport& other);
};

struct PlausibleRange {
  std::string variable;
  float low, high;
  const char* why;
};
const std::vector<PlausibleRange>& plausible_ranges();

// Fails (InvalidInput) naming the file, line and field on a missing header, a time that is not
// HH:MM, an unknown parameter, a value that is not a number, or no RecordID.
Stay read_stay(const std::filesystem::path& file, CleaningReport* report = nullptr);
// Every *.txt in `dir`, sorted by RecordID, read on the runtime's threads.
std::vector<Stay> read_stays(const std::filesystem::path& dir, CleaningReport* report = nullptr);

// RecordID -> In-hospital_death (0/1), from the challenge's Outcomes file.
std::map<int64_t, int> read_outcomes(const std::filesystem::path& file);
// RecordID -> fold from a `RecordID,fold` CSV; an unknown header, a repeated record or a fold that
// is not an integer >= 0 is an error naming the line.
std::map<int64_t, int> read_record_folds(const std::filesystem::path& file);

}  // namespace medai::icu
