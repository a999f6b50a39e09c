"""Materials for electron-transport simulation: elements, formulas, densities, ranges.

A `Material` is a composition by elements (atomic number Z, atomic weight A, weight
fraction) and a mass density. Element data: standard atomic weights (IUPAC) and
room-temperature densities of the elemental solids (CRC Handbook). The Kanaya-Okayama
range is K. Kanaya and S. Okayama, J. Phys. D 5 (1972) 43.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["ELEMENTS", "Material", "kanaya_okayama_range_nm", "material", "parse_formula"]

# symbol: (Z, atomic weight g/mol, density g/cm3 of the elemental solid or None for gases)
ELEMENTS: dict[str, tuple[int, float, float | None]] = {
    "H": (1, 1.008, None), "He": (2, 4.0026, None), "Li": (3, 6.94, 0.534),
    "Be": (4, 9.0122, 1.85), "B": (5, 10.81, 2.34), "C": (6, 12.011, 2.26),
    "N": (7, 14.007, None), "O": (8, 15.999, None), "F": (9, 18.998, None),
    "Ne": (10, 20.180, None), "Na": (11, 22.990, 0.971), "Mg": (12, 24.305, 1.738),
    "Al": (13, 26.982, 2.70), "Si": (14, 28.085, 2.33), "P": (15, 30.974, 1.82),
    "S": (16, 32.06, 2.07), "Cl": (17, 35.45, None), "Ar": (18, 39.948, None),
    "K": (19, 39.098, 0.862), "Ca": (20, 40.078, 1.55), "Sc": (21, 44.956, 2.99),
    "Ti": (22, 47.867, 4.51), "V": (23, 50.942, 6.11), "Cr": (24, 51.996, 7.19),
    "Mn": (25, 54.938, 7.44), "Fe": (26, 55.845, 7.874), "Co": (27, 58.933, 8.90),
    "Ni": (28, 58.693, 8.908), "Cu": (29, 63.546, 8.96), "Zn": (30, 65.38, 7.14),
    "Ga": (31, 69.723, 5.91), "Ge": (32, 72.630, 5.32), "As": (33, 74.922, 5.73),
    "Se": (34, 78.971, 4.81), "Br": (35, 79.904, None), "Kr": (36, 83.798, None),
    "Rb": (37, 85.468, 1.53), "Sr": (38, 87.62, 2.64), "Y": (39, 88.906, 4.47),
    "Zr": (40, 91.224, 6.51), "Nb": (41, 92.906, 8.57), "Mo": (42, 95.95, 10.28),
    "Tc": (43, 98.0, 11.5), "Ru": (44, 101.07, 12.37), "Rh": (45, 102.91, 12.41),
    "Pd": (46, 106.42, 12.02), "Ag": (47, 107.87, 10.49), "Cd": (48, 112.41, 8.65),
    "In": (49, 114.82, 7.31), "Sn": (50, 118.71, 7.29), "Sb": (51, 121.76, 6.68),
    "Te": (52, 127.60, 6.24), "I": (53, 126.90, 4.93), "Xe": (54, 131.29, None),
    "Cs": (55, 132.91, 1.93), "Ba": (56, 137.33, 3.51), "La": (57, 138.91, 6.15),
    "Ce": (58, 140.12, 6.77), "Pr": (59, 140.91, 6.77), "Nd": (60, 144.24, 7.01),
    "Pm": (61, 145.0, 7.26), "Sm": (62, 150.36, 7.52), "Eu": (63, 151.96, 5.24),
    "Gd": (64, 157.25, 7.90), "Tb": (65, 158.93, 8.23), "Dy": (66, 162.50, 8.55),
    "Ho": (67, 164.93, 8.80), "Er": (68, 167.26, 9.07), "Tm": (69, 168.93, 9.32),
    "Yb": (70, 173.05, 6.90), "Lu": (71, 174.97, 9.84), "Hf": (72, 178.49, 13.31),
    "Ta": (73, 180.95, 16.69), "W": (74, 183.84, 19.25), "Re": (75, 186.21, 21.02),
    "Os": (76, 190.23, 22.59), "Ir": (77, 192.22, 22.56), "Pt": (78, 195.08, 21.45),
    "Au": (79, 196.97, 19.30), "Hg": (80, 200.59, 13.53), "Tl": (81, 204.38, 11.85),
    "Pb": (82, 207.2, 11.34), "Bi": (83, 208.98, 9.78), "Po": (84, 209.0, 9.20),
    "At": (85, 210.0, None), "Rn": (86, 222.0, None), "Fr": (87, 223.0, None),
    "Ra": (88, 226.0, 5.5), "Ac": (89, 227.0, 10.07), "Th": (90, 232.04, 11.72),
    "Pa": (91, 231.04, 15.37), "U": (92, 238.03, 19.1),
}

# Secondary-electron escape depth: ~1 nm in metals, tens of nm in insulators (Seiler,
# J. Appl. Phys. 54 (1983) R1). One default; a material may set its own.
_SE_ESCAPE_NM = 2.0

_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*\.?\d*)")


def parse_formula(formula: str) -> dict[str, float]:
    """Atoms per formula unit, e.g. ``"SiO2" -> {"Si": 1, "O": 2}``, ``"Ni3Al"``.

    Raises
    ------
    ValueError
        For an unknown symbol or text that is not a chemical formula.
    """
    text = formula.strip()
    if not text or "".join(m.group(0) for m in _TOKEN.finditer(text)) != text:
        raise ValueError(
            f"material {formula!r} is not an element symbol or a chemical formula "
            "(e.g. Au, Si, SiO2, Ni3Al, C5H8O2)"
        )
    counts: dict[str, float] = {}
    for sym, num in _TOKEN.findall(text):
        if sym not in ELEMENTS:
            raise ValueError(f"material {formula!r}: unknown element {sym!r}")
        n = float(num) if num else 1.0
        if not n > 0:
            raise ValueError(f"material {formula!r}: count of {sym} must be > 0")
        counts[sym] = counts.get(sym, 0.0) + n
    return counts


@dataclass(frozen=True)
class Material:
    """A composition and a density.

    Attributes
    ----------
    name : str
    z : tuple of int, atomic numbers
    a : tuple of float, atomic weights, g/mol
    weight_fractions : tuple of float, summing to 1
    density_g_cm3 : float > 0
    se_escape_nm : float > 0, secondary-electron escape depth
    """

    name: str
    z: tuple[int, ...]
    a: tuple[float, ...]
    weight_fractions: tuple[float, ...]
    density_g_cm3: float
    se_escape_nm: float = _SE_ESCAPE_NM

    def __post_init__(self):
        if not (len(self.z) == len(self.a) == len(self.weight_fractions) > 0):
            raise ValueError(f"material {self.name!r}: z, a and weight_fractions differ in length")
        if not self.density_g_cm3 > 0:
            raise ValueError(f"material {self.name!r}: density_g_cm3 must be > 0, got {self.density_g_cm3}")
        if abs(sum(self.weight_fractions) - 1.0) > 1e-6:
            raise ValueError(f"material {self.name!r}: weight fractions sum to {sum(self.weight_fractions)}, not 1")
        if not self.se_escape_nm > 0:
            raise ValueError(f"material {self.name!r}: se_escape_nm must be > 0, got {self.se_escape_nm}")

    @property
    def mean_z(self) -> float:
        """Mass-weighted mean atomic number (the BSE contrast's Z)."""
        return float(np.dot(self.weight_fractions, self.z))

    @property
    def mean_a(self) -> float:
        return float(np.dot(self.weight_fractions, self.a))


def material(
    spec: str | Material,
    *,
    density_g_cm3: float | None = None,
    se_escape_nm: float = _SE_ESCAPE_NM,
) -> Material:
    """A Material from an element symbol (``"Au"``) or a formula with a density.

    Parameters
    ----------
    spec : element symbol, chemical formula, or a Material (returned unchanged)
    density_g_cm3 : float, optional
        Required for a formula; defaults to the elemental solid's density for a symbol.
    se_escape_nm : float
        Secondary-electron escape depth.
    """
    if isinstance(spec, Material):
        return spec
    counts = parse_formula(spec)
    syms = list(counts)
    if density_g_cm3 is None:
        if len(syms) == 1 and ELEMENTS[syms[0]][2] is not None:
            density_g_cm3 = ELEMENTS[syms[0]][2]
        else:
            raise ValueError(
                f"material {spec!r}: give its density (--density-g-cm3); "
                "only solid elements have a built-in one"
            )
    if not density_g_cm3 > 0:
        raise ValueError(f"material {spec!r}: density_g_cm3 must be > 0, got {density_g_cm3}")
    z = tuple(ELEMENTS[s][0] for s in syms)
    a = tuple(ELEMENTS[s][1] for s in syms)
    mass = np.array([counts[s] * ELEMENTS[s][1] for s in syms])
    w = tuple(float(x) for x in mass / mass.sum())
    return Material(spec.strip(), z, a, w, float(density_g_cm3), se_escape_nm)


def kanaya_okayama_range_nm(mat: Material | str, energy_kev: float) -> float:
    """Kanaya-Okayama electron range, nm: ``27.6 A E^1.67 / (Z^0.889 rho)`` (E in keV).

    For compounds, A and Z are mass-weighted means (the usual approximation).
    """
    mat = material(mat)
    return 27.6 * mat.mean_a * energy_kev**1.67 / (mat.mean_z**0.889 * mat.density_g_cm3)
