#pragma once
// A 5x7 pixel font for the PNG chart's labels (the SVG has real text): the
// digits, ". - + e", space, and the letters of "train loss", "eval loss",
// "step". A character outside it draws as a hollow box, so a gap is visible.

#include <functional>
#include <string>

namespace tunefleet::cli {

// Each glyph takes 6 x 7 cells (a column of space after it), `scale` pixels
// a cell.
int TextWidth(const std::string& text, int scale);

// Calls plot(x, y) for every pixel of `text` with its top-left at (x, y).
void DrawText(const std::string& text, int x, int y, int scale, const std::function<void(int, int)>& plot);

}  // namespace tunefleet::cli
