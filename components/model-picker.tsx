// The Create form's model choice: every servable model version, the active one first (the page orders them).
export interface PickerModel {
  id: string;
  name: string;
  active: boolean;
}

export function ModelPicker({
  models,
  value,
  disabled,
  onChange,
}: {
  models: PickerModel[];
  value: string;
  disabled?: boolean;
  onChange: (id: string) => void;
}) {
  return (
    <label className="flex flex-wrap items-center gap-2 text-sm">
      <span className="text-neutral-600">Model</span>
      <select
        value={value}
        disabled={disabled}
        onChange={(e) => onChange(e.target.value)}
        className="rounded border border-neutral-300 bg-white px-2 py-1"
        data-testid="model-picker"
      >
        {models.map((m) => (
          <option key={m.id} value={m.id}>
            {m.active ? `${m.name} (active)` : m.name}
          </option>
        ))}
      </select>
    </label>
  );
}
