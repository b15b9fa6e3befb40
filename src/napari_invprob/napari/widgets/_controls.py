"""Small composite controls shared by the widgets: a log slider with a typed field, layer pickers."""

from __future__ import annotations

import math

from magicgui.widgets import ComboBox, Container, FloatSlider, LineEdit


def parse_float(text: str, what: str) -> float:
    """Parse a typed number, with an error message that names the field."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {text!r}")
    return value


class LogValue(Container):
    """A positive value on a logarithmic slider, with a field to type it (``1e-3``, ``0.02``).

    ``changed`` fires when the slider moves or an edit of the field is finished. :attr:`number`
    parses the field and raises ``ValueError`` for text that is not a number, so the caller decides
    what is acceptable (λ < 0 is reported, not silently clamped).
    """

    def __init__(self, *, value: float, min_exp: float = -6.0, max_exp: float = 2.0, label: str = "λ",
                 tooltip: str = ""):
        slider = FloatSlider(min=min_exp, max=max_exp, step=0.01, readout=False, tooltip=tooltip)
        field = LineEdit(value=f"{value:.3g}", tooltip=tooltip)
        field.min_width = 70
        field.max_width = 90
        super().__init__(widgets=[slider, field], layout="horizontal", labels=False, label=label, tooltip=tooltip)
        self._slider, self._field = slider, field
        self.margins = (0, 0, 0, 0)
        self._set_slider(value)
        # The slider's moves and finished edits of the field are the only changes that count.
        self._slider.changed.disconnect()
        self._field.changed.disconnect()
        self._slider.changed.connect(self._slider_moved)
        self._field.native.editingFinished.connect(self._field_edited)

    @property
    def number(self) -> float:
        """The typed value (``ValueError`` if the field does not hold a number)."""
        return parse_float(self._field.value, self.label or "value")

    @number.setter
    def number(self, value: float) -> None:
        self._field.value = f"{value:.3g}"
        self._set_slider(value)
        self.changed.emit(self)

    def _set_slider(self, value: float) -> None:
        if value > 0:
            with self._slider.changed.blocked():
                self._slider.value = min(max(math.log10(value), self._slider.min), self._slider.max)

    def _slider_moved(self, exponent: float) -> None:
        self._field.value = f"{10.0**exponent:.3g}"
        self.changed.emit(self)

    def _field_edited(self) -> None:
        try:
            self._set_slider(self.number)
        except ValueError:
            pass  # reported when the value is used
        self.changed.emit(self)


def layer_picker(viewer, layer_type, *, label: str, optional: bool = False, tooltip: str = "") -> ComboBox:
    """A combo box listing the viewer's layers of ``layer_type`` (none first when ``optional``).

    The choices refresh when layers are added, removed, moved or renamed.
    """

    def choices(_widget):
        return [(layer.name, layer) for layer in viewer.layers if isinstance(layer, layer_type)]

    picker = ComboBox(choices=choices, label=label, nullable=optional, tooltip=tooltip)
    events = viewer.layers.events
    for event in (events.inserted, events.removed, events.reordered, events.renamed):
        event.connect(picker.reset_choices)
    return picker
