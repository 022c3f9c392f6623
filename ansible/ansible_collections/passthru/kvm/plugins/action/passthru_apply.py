# The controller side of passthru_apply: `src` names a host file on the controller
# (found as `copy` finds its src, in the role's or playbook's files/ too); its text
# goes to the binary module on the host as `content`, so the host needs no copy step.
from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        remote_src = args.pop("remote_src", False)
        try:
            remote_src = boolean(remote_src, strict=True)
        except TypeError as e:
            result.update(failed=True, msg=f"remote_src: {e}")
            return result
        src = args.get("src")
        if src is not None and args.get("content") is None and not remote_src:
            try:
                path = self._find_needle("files", src)
                with open(path, "rb") as f:
                    args["content"] = to_text(f.read(), errors="surrogate_or_strict")
            except (AnsibleError, OSError, UnicodeError) as e:
                result.update(failed=True, msg=f"cannot read the host file {src} on the controller: {e}")
                return result
        result.update(
            self._execute_module(
                module_name=self._task.resolved_action or self._task.action,
                module_args=args,
                task_vars=task_vars,
            )
        )
        return result
