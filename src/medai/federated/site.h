#pragma once
// A site of a federation (`medai fl join`): joins the coordinator with its model's architecture,
// data sizes, preprocessing statistics and an X25519 public key, then polls for tasks; for each
// round it checks the global model's checksum, measures it on its own validation split, trains
// locally (FedProx's proximal term and DP-SGD as the coordinator's settings say; the noise
// multiplier is chosen once so that all rounds together stay within the target epsilon), clips
// (DP-FedAvg), masks (secure aggregation) and sends its update with a checksum and a fresh nonce.
// Transient failures (coordinator down, restarted) are retried until `give_up_s`.
#include <string>

#include <nlohmann/json.hpp>

#include "medai/bridges/grpc/federation_transport.h"
#include "medai/federated/site_model.h"

namespace medai::federated {

struct SiteOptions {
  std::string server, token, site;
  bridges::fl::TlsFiles tls;
  double give_up_s = 300;
};

// Returns what the site did: rounds trained, the privacy spent, its last validation AUROC.
nlohmann::json run_site(SiteModel& model, const SiteOptions& options);

// The announcement for a site that could not load its data: the coordinator refuses it and audits
// why (a site with no data), and the site then stops with that reason.
void announce_no_data(const SiteOptions& options, const std::string& task);

}  // namespace medai::federated
