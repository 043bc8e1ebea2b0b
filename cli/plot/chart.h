#pragma once
// The loss chart as an SVG document (axes, ticks, labels, legend) or a PNG
// image (the same chart, its labels in a bitmap font, for viewers that lack
// SVG), written
// without any plotting library.

#include <string>

#include "absl/status/status.h"
#include "cli/plot/loss_series.h"

namespace tunefleet::cli {

std::string RenderSvg(const LossSeries& series, const std::string& title);
// PNG via libpng when built with it; otherwise UNIMPLEMENTED.
absl::Status WritePng(const LossSeries& series, const std::string& path);
// Picks the format from the extension (.svg or .png).
absl::Status WriteChart(const LossSeries& series, const std::string& title, const std::string& path);

}  // namespace tunefleet::cli
